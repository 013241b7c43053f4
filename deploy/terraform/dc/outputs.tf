output "cluster_name" {
  description = "The site's EKS cluster."
  value       = local.cluster_name
}

output "kubeconfig_command" {
  description = "Adds the cluster to ~/.kube/config."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${local.cluster_name} --alias ${local.cluster_name}"
}

output "vpc_id" {
  description = "The VPC: the AWS Load Balancer Controller's Helm value vpcId (it need not then ask the instance metadata)."
  value       = var.create_cluster ? module.network[0].vpc_id : null
}

output "vpc_cidr" {
  description = "The VPC's CIDR: the front end's NetworkPolicy patch in deploy/k8s/overlays/dc."
  value       = var.create_cluster ? module.network[0].vpc_cidr : null
}

output "addon_role_arns" {
  description = "Role ARN per add-on (aws-load-balancer-controller, external-dns, cluster-autoscaler): the IRSA annotation of its ServiceAccount in its Helm values."
  value       = var.create_addon_roles ? module.addons_iam[0].role_arns : {}
}

output "revenant_role_arns" {
  description = "IRSA annotations of deploy/k8s/overlays/dc's ServiceAccounts."
  value       = module.revenant_iam.role_arns
}

output "route53_zone_id" {
  description = "dns.route53.zone_id in revenant.yml (and the dr stack's route53_zone_id)."
  value       = local.zone_id
}
