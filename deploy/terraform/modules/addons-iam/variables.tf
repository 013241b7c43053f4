variable "name_prefix" {
  description = "Prefix of the role names, e.g. ghost-dc (roles: <prefix>-aws-load-balancer-controller, <prefix>-external-dns, <prefix>-cluster-autoscaler)."
  type        = string
}

variable "cluster_name" {
  description = "The EKS cluster (the autoscaler's tag scope; Pod Identity associations)."
  type        = string
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

variable "route53_zone_id" {
  description = "The public hosted zone external-dns writes the site's name in (needed with external_dns_names)."
  type        = string
  default     = null
}

variable "external_dns_names" {
  description = "The only names external-dns may publish: this site's own, e.g. [\"dc.blog.example.com\"] (never the public name, which is revenant's); empty: no external-dns role."
  type        = list(string)
  default     = []
}

variable "load_balancer_controller_service_account" {
  description = "Namespace and name of the AWS Load Balancer Controller's ServiceAccount (its Helm chart's defaults)."
  type        = object({ namespace = string, name = string })
  default     = { namespace = "kube-system", name = "aws-load-balancer-controller" }
}

variable "external_dns_service_account" {
  description = "Namespace and name of external-dns's ServiceAccount."
  type        = object({ namespace = string, name = string })
  default     = { namespace = "external-dns", name = "external-dns" }
}

variable "cluster_autoscaler_service_account" {
  description = "Namespace and name of the cluster autoscaler's ServiceAccount."
  type        = object({ namespace = string, name = string })
  default     = { namespace = "kube-system", name = "cluster-autoscaler" }
}

variable "tags" {
  description = "Tags for the roles."
  type        = map(string)
  default     = {}
}
