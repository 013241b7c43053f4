output "role_arns" {
  description = "Role ARN per ServiceAccount: the IRSA annotation of each (deploy/k8s overlays)."
  value       = { for k, r in aws_iam_role.this : local.accounts[k] => r.arn }
}
