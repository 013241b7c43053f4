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
  description = "The primary site's region."
  type        = string
  default     = "eu-west-1"
}

variable "bucket_arn" {
  description = "The replica bucket (dr stack output bucket_arn)."
  type        = string
}

variable "zone_name" {
  description = "The public hosted zone, e.g. example.com."
  type        = string
  default     = null
}

variable "public_name" {
  description = "The blog's public name (an alias revenant switches); null: no DNS here."
  type        = string
  default     = null
}
