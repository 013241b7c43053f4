variable "name" {
  description = "Name of the VPC and prefix of its parts' Name tags, e.g. ghost-dc."
  type        = string
}

variable "cidr" {
  description = "The VPC's CIDR (a /16: dc 10.10.0.0/16, dr 10.20.0.0/16, as the k8s overlays' NetworkPolicy patches say)."
  type        = string
  validation {
    condition     = can(regex("^\\d+\\.\\d+\\.\\d+\\.\\d+/(8|9|1[0-6])$", var.cidr)) && can(cidrhost(var.cidr, 0))
    error_message = "cidr must be an IPv4 CIDR of /16 or larger (the subnets are carved as /18 and /22)."
  }
}

variable "az_count" {
  description = "Availability zones to spread the subnets over."
  type        = number
  default     = 3
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (EKS needs two zones; the layout has room for three)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper; a zone outage can cut the others' egress) instead of one per zone."
  type        = bool
  default     = false
}

variable "cluster_name" {
  description = "The EKS cluster whose load balancers may use these subnets (tag kubernetes.io/cluster/<name>)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
