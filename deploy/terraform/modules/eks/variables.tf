variable "cluster_name" {
  description = "The EKS cluster's name (also the prefix of its IAM roles and KMS alias)."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and nodes: one in EKS's standard support (aws eks describe-cluster-versions), and within one minor of your kubectl."
  type        = string
  default     = "1.33"
}

variable "subnet_ids" {
  description = "Private subnets (at least two zones) for the control plane's interfaces and the nodes."
  type        = list(string)
}

variable "endpoint_public_access" {
  description = "Also expose the API endpoint publicly (only to public_access_cidrs); the private endpoint is always on."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to the public API endpoint, when it is on (your office or CI runners; never 0.0.0.0/0)."
  type        = list(string)
  default     = []
  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0")
    error_message = "public_access_cidrs must not be 0.0.0.0/0."
  }
}

variable "cluster_log_types" {
  description = "Control-plane logs sent to CloudWatch."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
}

variable "log_retention_days" {
  description = "Days the control-plane logs are kept."
  type        = number
  default     = 90
}

variable "node_instance_types" {
  description = "Instance types of the managed node groups (several: more spot/on-demand capacity to draw from)."
  type        = list(string)
  default     = ["m6i.large", "m5.large"]
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT. Ghost is a single writer: a spot interruption is an outage of the blog until it is rescheduled."
  type        = string
  default     = "ON_DEMAND"
  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "node_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_ami_type" {
  description = "AMI type of the nodes."
  type        = string
  default     = "AL2023_x86_64_STANDARD"
}

variable "node_disk_size" {
  description = "Root volume of each node, GiB (images; the content volume is a separate EBS volume)."
  type        = number
  default     = 50
}

variable "node_group_per_az" {
  description = "One managed node group per zone (what the cluster autoscaler needs to follow a zonal EBS volume); false: one group over all zones."
  type        = bool
  default     = true
}

variable "node_min_size" {
  description = "Fewest nodes, per node group."
  type        = number
  default     = 1
}

variable "node_max_size" {
  description = "Most nodes per node group (the cluster autoscaler's ceiling)."
  type        = number
  default     = 3
}

variable "node_desired_size" {
  description = "Nodes per node group at creation (the cluster autoscaler moves it afterwards; Terraform ignores the change)."
  type        = number
  default     = 1
}

variable "addon_versions" {
  description = "Pinned add-on versions by name (vpc-cni, kube-proxy, coredns, aws-ebs-csi-driver, eks-pod-identity-agent); absent: EKS's default for the Kubernetes version."
  type        = map(string)
  default     = {}
}

variable "access_entries" {
  description = "IAM roles mapped to Kubernetes groups, by a name of your choice: e.g. { dev = { principal_arn = \"<role arn>\", groups = [\"ghost:dev\"] } } (groups ghost:dev, ghost:sec, ghost:operator: deploy/k8s/base/rbac.yaml)."
  type        = map(object({ principal_arn = string, groups = list(string) }))
  default     = {}
}

variable "admin_principal_arns" {
  description = "IAM roles given cluster-admin (AmazonEKSClusterAdminPolicy) besides the cluster's creator."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
