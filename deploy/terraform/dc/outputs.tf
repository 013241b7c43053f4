output "revenant_role_arns" {
  description = "IRSA annotations of deploy/k8s/overlays/dc's ServiceAccounts."
  value       = module.revenant_iam.role_arns
}

output "route53_zone_id" {
  description = "dns.route53.zone_id in revenant.yml."
  value       = var.public_name == null ? null : module.dns[0].zone_id
}
