# Site dr (eu-west-2 by default): the network and EKS cluster, the cluster
# add-ons' roles, the replica bucket both sites use, and the DR site's
# revenant roles.  Apply this stack first; its outputs feed dc.
provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids
  default_tags {
    tags = { project = "ghost", site = "dr", managed-by = "terraform" }
  }
}

locals {
  site = "dr"
  # create_cluster = false: an existing cluster, given by name and OIDC
  # provider as before this stack made its own.
  cluster_name      = var.create_cluster ? module.eks[0].cluster_name : var.cluster_name
  oidc_provider_arn = var.create_cluster ? module.eks[0].oidc_provider_arn : var.oidc_provider_arn
  oidc_provider_url = var.create_cluster ? module.eks[0].oidc_provider_url : var.oidc_provider_url
}

module "network" {
  source             = "../modules/network"
  count              = var.create_cluster ? 1 : 0
  name               = "ghost-dr"
  cidr               = var.vpc_cidr
  single_nat_gateway = var.single_nat_gateway
  cluster_name       = var.cluster_name
}

module "eks" {
  source                 = "../modules/eks"
  count                  = var.create_cluster ? 1 : 0
  cluster_name           = var.cluster_name
  kubernetes_version     = var.kubernetes_version
  subnet_ids             = module.network[0].private_subnet_ids
  endpoint_public_access = var.endpoint_public_access
  public_access_cidrs    = var.public_access_cidrs
  node_instance_types    = var.node_instance_types
  node_min_size          = var.node_min_size
  node_max_size          = var.node_max_size
  node_desired_size      = var.node_desired_size
  access_entries         = var.access_entries
  admin_principal_arns   = var.admin_principal_arns
}

module "replica_bucket" {
  source          = "../modules/replica-bucket"
  bucket_name     = var.bucket_name
  noncurrent_days = var.noncurrent_days
}

module "addons_iam" {
  source            = "../modules/addons-iam"
  count             = var.create_addon_roles ? 1 : 0
  name_prefix       = "ghost-dr"
  cluster_name      = local.cluster_name
  use_pod_identity  = var.use_pod_identity
  oidc_provider_arn = local.oidc_provider_arn
  oidc_provider_url = local.oidc_provider_url
  # external-dns here publishes dr.<public name> only; the public name is
  # revenant's, created by the dc stack.
  route53_zone_id    = var.route53_zone_id
  external_dns_names = var.public_name == null || var.route53_zone_id == null ? [] : ["${local.site}.${var.public_name}"]
}

module "revenant_iam" {
  source            = "../modules/revenant-iam"
  name_prefix       = "ghost-dr"
  bucket_arn        = module.replica_bucket.arn
  prefix            = var.store_prefix
  route53_zone_id   = var.route53_zone_id
  namespace         = var.namespace
  use_pod_identity  = var.use_pod_identity
  oidc_provider_arn = local.oidc_provider_arn
  oidc_provider_url = local.oidc_provider_url
  cluster_name      = local.cluster_name
}
