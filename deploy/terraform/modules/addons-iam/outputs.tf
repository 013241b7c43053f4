output "role_arns" {
  description = "Role ARN per controller (aws-load-balancer-controller, external-dns, cluster-autoscaler): the eks.amazonaws.com/role-arn annotation of its ServiceAccount (Helm value serviceAccount.annotations)."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}
