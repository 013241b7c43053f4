variable "allowed_account_ids" {
  description = "The AWS account(s) this stack may touch (a guard against the wrong credentials)."
  type        = list(string)
}

variable "region" {
  description = "The DR site's region (and the bucket's)."
  type        = string
  default     = "eu-west-2"
}

# ---- network and cluster ----

variable "create_cluster" {
  description = "Create the VPC and the EKS cluster here; false: use an existing cluster (cluster_name, oidc_provider_arn, oidc_provider_url)."
  type        = bool
  default     = true
}

variable "cluster_name" {
  description = "The EKS cluster's name: the one created here, or the existing one when create_cluster is false."
  type        = string
  default     = "ghost-dr"
}

variable "oidc_provider_arn" {
  description = "create_cluster = false with IRSA: the existing cluster's IAM OIDC provider ARN (aws iam list-open-id-connect-providers)."
  type        = string
  default     = null
}

variable "oidc_provider_url" {
  description = "create_cluster = false with IRSA: the existing cluster's OIDC issuer URL."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  description = "The site's VPC CIDR; deploy/k8s/overlays/dr's NetworkPolicy patch names the same."
  type        = string
  default     = "10.20.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone (cheaper, less available)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "The cluster's Kubernetes minor version (in EKS's standard support; within one minor of your kubectl)."
  type        = string
  default     = "1.33"
}

variable "endpoint_public_access" {
  description = "Also expose the API endpoint publicly, to public_access_cidrs only."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to the public API endpoint."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node groups."
  type        = list(string)
  default     = ["m6i.large", "m5.large"]
}

variable "node_min_size" {
  description = "Fewest nodes per node group (one group per zone)."
  type        = number
  default     = 1
}

variable "node_max_size" {
  description = "Most nodes per node group (the cluster autoscaler's ceiling)."
  type        = number
  default     = 3
}

variable "node_desired_size" {
  description = "Nodes per node group at creation."
  type        = number
  default     = 1
}

variable "access_entries" {
  description = "IAM roles mapped to the Kubernetes groups of deploy/k8s/base/rbac.yaml (ghost:dev, ghost:sec, ghost:operator): { name = { principal_arn, groups } }."
  type        = map(object({ principal_arn = string, groups = list(string) }))
  default     = {}
}

variable "admin_principal_arns" {
  description = "IAM roles given cluster-admin besides the identity that runs this stack."
  type        = list(string)
  default     = []
}

variable "create_addon_roles" {
  description = "Make the AWS Load Balancer Controller's, external-dns's and the cluster autoscaler's roles (false if the cluster has its own)."
  type        = bool
  default     = true
}

# ---- revenant and the bucket ----

variable "use_pod_identity" {
  description = "EKS Pod Identity instead of IRSA, for revenant and the add-ons (then add deploy/k8s/components/pod-identity)."
  type        = bool
  default     = false
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

variable "bucket_name" {
  description = "The replica bucket's name (globally unique)."
  type        = string
}

variable "noncurrent_days" {
  description = "Days a noncurrent object version is kept."
  type        = number
  default     = 7
}

# ---- DNS ----

variable "route53_zone_id" {
  description = "The public zone's id (dc stack output route53_zone_id, or aws route53 list-hosted-zones-by-name), so that dr can switch DNS and external-dns publish dr.<public_name>; null: no Route 53 access."
  type        = string
  default     = null
}

variable "public_name" {
  description = "The blog's public name (the dc stack creates it); external-dns here may publish only dr.<public_name>. null: no external-dns role."
  type        = string
  default     = null
}
