output "bucket" {
  description = "store.url is s3://<bucket>/<store_prefix>?region=<region> at both sites."
  value       = module.replica_bucket.bucket
}

output "bucket_arn" {
  description = "The dc stack's bucket_arn."
  value       = module.replica_bucket.arn
}

output "revenant_role_arns" {
  description = "IRSA annotations of deploy/k8s/overlays/dr's ServiceAccounts."
  value       = module.revenant_iam.role_arns
}
