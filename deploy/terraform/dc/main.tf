# Site dc (eu-west-1 by default): the network and EKS cluster, the cluster
# add-ons' roles, the primary's revenant roles and the public name.  The
# bucket comes from the dr stack (its output bucket_arn).
provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids
  default_tags {
    tags = { project = "ghost", site = "dc", managed-by = "terraform" }
  }
}

locals {
  site = "dc"
  # create_cluster = false: an existing cluster, given by name and OIDC
  # provider as before this stack made its own.
  cluster_name      = var.create_cluster ? module.eks[0].cluster_name : var.cluster_name
  oidc_provider_arn = var.create_cluster ? module.eks[0].oidc_provider_arn : var.oidc_provider_arn
  oidc_provider_url = var.create_cluster ? module.eks[0].oidc_provider_url : var.oidc_provider_url
  zone_id           = var.public_name == null ? null : module.dns[0].zone_id
}

module "network" {
  source             = "../modules/network"
  count              = var.create_cluster ? 1 : 0
  name               = "ghost-dc"
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

module "dns" {
  source       = "../modules/dns"
  count        = var.public_name == null ? 0 : 1
  zone_name    = var.zone_name
  public_name  = var.public_name
  initial_site = local.site
  create_alias = var.create_public_alias
}

module "addons_iam" {
  source             = "../modules/addons-iam"
  count              = var.create_addon_roles ? 1 : 0
  name_prefix        = "ghost-dc"
  cluster_name       = local.cluster_name
  use_pod_identity   = var.use_pod_identity
  oidc_provider_arn  = local.oidc_provider_arn
  oidc_provider_url  = local.oidc_provider_url
  route53_zone_id    = local.zone_id
  external_dns_names = var.public_name == null ? [] : ["${local.site}.${var.public_name}"]
}

module "revenant_iam" {
  source            = "../modules/revenant-iam"
  name_prefix       = "ghost-dc"
  bucket_arn        = var.bucket_arn
  prefix            = var.store_prefix
  route53_zone_id   = local.zone_id
  namespace         = var.namespace
  use_pod_identity  = var.use_pod_identity
  oidc_provider_arn = local.oidc_provider_arn
  oidc_provider_url = local.oidc_provider_url
  cluster_name      = local.cluster_name
}
