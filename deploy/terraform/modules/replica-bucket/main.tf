# The replica store: one bucket for both sites (the lease that fences a
# writer lives in it), in the DR region, so that losing the primary's
# region loses no replica.
#
# Versioning is a second line of defence: an object overwritten or deleted
# by mistake stays as a noncurrent version.  The lifecycle rules only ever
# touch noncurrent versions, delete markers and abandoned multipart uploads:
# current objects are revenant's to remove (`revenant prune` keeps every
# recovery point of its retention window restorable), so no rule may
# expire them behind its back.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

resource "aws_s3_bucket" "replica" {
  bucket        = var.bucket_name
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "replica" {
  bucket = aws_s3_bucket.replica.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  bucket                  = aws_s3_bucket.replica.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "replica" {
  bucket = aws_s3_bucket.replica.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  bucket = aws_s3_bucket.replica.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  bucket = aws_s3_bucket.replica.id
  # Rules on a versioned bucket need versioning on first.
  depends_on = [aws_s3_bucket_versioning.replica]

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_days
    }
    # A delete marker with no version behind it is left by prune's deletes
    # once the noncurrent version has expired.
    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    id     = "abandoned-multipart-uploads"
    status = "Enabled"
    filter {}
    # revenant aborts the uploads it cannot finish; this catches a process
    # killed in the middle of one.
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

# Only TLS, and only this account's principals with their own policies.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyPlainHTTP"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.replica.arn,
      "${aws_s3_bucket.replica.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "replica" {
  bucket     = aws_s3_bucket.replica.id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.replica]
}
