# revenant's AWS identities at one site: two roles, each for one Kubernetes
# ServiceAccount (deploy/k8s/base/serviceaccounts.yaml), reached through
# EKS IRSA (web identity) or EKS Pod Identity.
#
# The actions are exactly the calls revenant makes (src/store/s3.c,
# src/store/s3_xml.c rv_s3_permission, src/dns/route53.c); the test
# tests/integration/deploy_terraform.sh compares them with the code:
#   replicate, standby, restore, status (role "revenant"):
#     s3:ListBucket        ListObjectsV2 under the prefix
#     s3:GetObject         GET and HEAD of objects
#     s3:PutObject         PUT, and the multipart create/part/complete
#     s3:AbortMultipartUpload  an upload it cannot finish
#     s3:GetBucketVersioning   the capability probe at replicate's start
#     s3:DeleteObject      only the probe's own objects (.revenant/probe/):
#                          replicate writes one at start and removes it
#     route53 (when a zone is given): `revenant dns switch`
#   prune (role "revenant-prune"): list, read, and s3:DeleteObject on the
#   prefix.  Only this role can delete a replica.
# `revenant bucket init` (s3:CreateBucket, s3:PutBucketVersioning) is not
# granted: the bucket is Terraform's (modules/replica-bucket).
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

locals {
  prefix      = trim(var.prefix, "/")
  objects_arn = "${var.bucket_arn}/${local.prefix}/*"
  probe_arn   = "${var.bucket_arn}/${local.prefix}/.revenant/probe/*"
  oidc_host   = replace(var.oidc_provider_url, "https://", "")
  accounts = {
    revenant       = var.service_account
    revenant-prune = var.prune_service_account
  }
}

# ---- permissions ----

data "aws_iam_policy_document" "replicate" {
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix}/*"]
    }
  }
  statement {
    sid       = "Probe"
    actions   = ["s3:GetBucketVersioning"]
    resources = [var.bucket_arn]
  }
  statement {
    sid       = "Objects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.objects_arn]
  }
  statement {
    sid       = "ProbeObjects"
    actions   = ["s3:DeleteObject"]
    resources = [local.probe_arn]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "Kms"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "prune" {
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix}/*"]
    }
  }
  statement {
    sid       = "Objects"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = [local.objects_arn]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "Kms"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# The three calls of the Route 53 provider; a change's id is not known in
# advance, hence change/*.
data "aws_iam_policy_document" "route53" {
  count = var.route53_zone_id == null ? 0 : 1
  statement {
    sid       = "Records"
    actions   = ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"]
    resources = ["arn:aws:route53:::hostedzone/${var.route53_zone_id}"]
  }
  statement {
    sid       = "Changes"
    actions   = ["route53:GetChange"]
    resources = ["arn:aws:route53:::change/*"]
  }
}

# ---- who may take the roles ----

data "aws_iam_policy_document" "trust" {
  for_each = local.accounts
  dynamic "statement" {
    for_each = var.use_pod_identity ? [] : [1]
    content {
      sid     = "Irsa"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:sub"
        values   = ["system:serviceaccount:${var.namespace}:${each.value}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.use_pod_identity ? [1] : []
    content {
      sid     = "PodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each             = local.accounts
  name                 = "${var.name_prefix}-${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "replicate" {
  name   = "revenant-replicate"
  role   = aws_iam_role.this["revenant"].id
  policy = data.aws_iam_policy_document.replicate.json
}

resource "aws_iam_role_policy" "route53" {
  count  = var.route53_zone_id == null ? 0 : 1
  name   = "revenant-route53"
  role   = aws_iam_role.this["revenant"].id
  policy = data.aws_iam_policy_document.route53[0].json
}

resource "aws_iam_role_policy" "prune" {
  name   = "revenant-prune"
  role   = aws_iam_role.this["revenant-prune"].id
  policy = data.aws_iam_policy_document.prune.json
}

resource "aws_eks_pod_identity_association" "this" {
  for_each        = var.use_pod_identity ? local.accounts : {}
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = each.value
  role_arn        = aws_iam_role.this[each.key].arn
}
