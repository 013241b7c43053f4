output "zone_id" {
  description = "The hosted zone's id: dns.route53.zone_id in revenant.yml and route53_zone_id of revenant-iam."
  value       = data.aws_route53_zone.zone.zone_id
}

output "fqdn" {
  description = "The public name (null until create_alias)."
  value       = one(aws_route53_record.public[*].fqdn)
}
