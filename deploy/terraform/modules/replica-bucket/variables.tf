variable "bucket_name" {
  description = "Name of the replica bucket (globally unique)."
  type        = string
}

variable "kms_key_arn" {
  description = "A KMS key for SSE-KMS; null for SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "noncurrent_days" {
  description = "Days a noncurrent version (overwritten or pruned object) is kept."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
