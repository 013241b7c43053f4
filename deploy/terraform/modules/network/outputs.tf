output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "The VPC's CIDR (the front end's NetworkPolicy in the k8s overlay)."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets: the EKS control plane's interfaces and the nodes."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnets: internet-facing load balancers and the NAT gateways."
  value       = aws_subnet.public[*].id
}

output "nat_public_ips" {
  description = "The NAT gateways' addresses (what the other site and the store see as this site's egress)."
  value       = aws_eip.nat[*].public_ip
}

output "s3_endpoint_id" {
  description = "The S3 gateway endpoint (a bucket policy can require aws:SourceVpce)."
  value       = aws_vpc_endpoint.s3.id
}
