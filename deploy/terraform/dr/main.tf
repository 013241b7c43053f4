# Site dr (eu-west-2 by default): the replica bucket both sites use, and the
# DR site's revenant roles.  Apply this stack first; its outputs feed dc.
provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids
  default_tags {
    tags = { project = "ghost", site = "dr", managed-by = "terraform" }
  }
}

module "replica_bucket" {
  source          = "../modules/replica-bucket"
  bucket_name     = var.bucket_name
  noncurrent_days = var.noncurrent_days
}

module "revenant_iam" {
  source            = "../modules/revenant-iam"
  name_prefix       = "ghost-dr"
  bucket_arn        = module.replica_bucket.arn
  prefix            = var.store_prefix
  route53_zone_id   = var.route53_zone_id
  namespace         = var.namespace
  use_pod_identity  = var.use_pod_identity
  oidc_provider_arn = var.oidc_provider_arn
  oidc_provider_url = var.oidc_provider_url
  cluster_name      = var.cluster_name
}
