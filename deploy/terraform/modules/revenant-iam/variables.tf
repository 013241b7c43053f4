variable "name_prefix" {
  description = "Prefix of the role names, e.g. ghost-dc (roles: <prefix>-revenant, <prefix>-revenant-prune)."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the replica bucket."
  type        = string
}

variable "prefix" {
  description = "The store's prefix in the bucket (store.url s3://bucket/PREFIX)."
  type        = string
  default     = "blog"
}

variable "kms_key_arn" {
  description = "The bucket's KMS key when it uses SSE-KMS."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Hosted zone `revenant dns switch` changes; null: no Route 53 permissions."
  type        = string
  default     = null
}

variable "namespace" {
  description = "Kubernetes namespace of the ServiceAccounts."
  type        = string
  default     = "ghost"
}

variable "service_account" {
  description = "ServiceAccount of the Ghost pod (replicate/standby)."
  type        = string
  default     = "revenant"
}

variable "prune_service_account" {
  description = "ServiceAccount of the prune CronJob."
  type        = string
  default     = "revenant-prune"
}

variable "use_pod_identity" {
  description = "EKS Pod Identity associations instead of IRSA trust."
  type        = bool
  default     = false
}

variable "oidc_provider_arn" {
  description = "IRSA: ARN of the cluster's IAM OIDC provider."
  type        = string
  default     = null
}

variable "oidc_provider_url" {
  description = "IRSA: the cluster's OIDC issuer URL."
  type        = string
  default     = ""
}

variable "cluster_name" {
  description = "Pod Identity: the EKS cluster's name."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the roles."
  type        = map(string)
  default     = {}
}
