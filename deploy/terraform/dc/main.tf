# Site dc (eu-west-1 by default): the primary's revenant roles and the
# public name.  The bucket comes from the dr stack (its output bucket_arn).
provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids
  default_tags {
    tags = { project = "ghost", site = "dc", managed-by = "terraform" }
  }
}

module "dns" {
  source       = "../modules/dns"
  count        = var.public_name == null ? 0 : 1
  zone_name    = var.zone_name
  public_name  = var.public_name
  initial_site = "dc"
}

module "revenant_iam" {
  source            = "../modules/revenant-iam"
  name_prefix       = "ghost-dc"
  bucket_arn        = var.bucket_arn
  prefix            = var.store_prefix
  route53_zone_id   = var.public_name == null ? null : module.dns[0].zone_id
  namespace         = var.namespace
  use_pod_identity  = var.use_pod_identity
  oidc_provider_arn = var.oidc_provider_arn
  oidc_provider_url = var.oidc_provider_url
  cluster_name      = var.cluster_name
}
