variable "allowed_account_ids" {
  description = "The AWS account(s) this stack may touch (a guard against the wrong credentials)."
  type        = list(string)
}

variable "store_prefix" {
  description = "The store's prefix in the bucket."
  type        = string
  default     = "blog"
}

variable "namespace" {
  description = "Kubernetes namespace of Ghost and revenant."
  type        = string
  default     = "ghost"
}

variable "use_pod_identity" {
  description = "EKS Pod Identity instead of IRSA (then add deploy/k8s/components/pod-identity)."
  type        = bool
  default     = false
}

variable "oidc_provider_arn" {
  description = "IRSA: the cluster's IAM OIDC provider ARN (aws eks describe-cluster; or the EKS module's output)."
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

variable "region" {
  description = "The DR site's region (and the bucket's)."
  type        = string
  default     = "eu-west-2"
}

variable "bucket_name" {
  description = "The replica bucket's name (globally unique)."
  type        = string
}

variable "noncurrent_days" {
  description = "Days a noncurrent object version is kept."
  type        = number
  default     = 7
}

variable "route53_zone_id" {
  description = "The public zone's id (dc stack output route53_zone_id), so that dr can switch DNS; null: no Route 53 access."
  type        = string
  default     = null
}
