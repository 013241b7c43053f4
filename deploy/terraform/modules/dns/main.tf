# The public name.  It is revenant's, not external-dns's
# (docs/OPERATIONS.md, "Switching DNS"): an alias A record in the zone,
# pointing at the primary site's own name (dc.<public name>, which
# external-dns publishes from that site's Ingress and keeps pointing at its
# ALB).  Terraform creates it once; from then on `revenant dns switch --to
# SITE` moves it (a DELETE + CREATE change batch) and Terraform ignores
# where it points.  The alias target must exist first: create_alias stays
# false until external-dns has published the site names (the zone is looked
# up from the start: external-dns's role at each site needs its id).
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

data "aws_route53_zone" "zone" {
  name         = var.zone_name
  private_zone = false
}

resource "aws_route53_record" "public" {
  count   = var.create_alias ? 1 : 0
  zone_id = data.aws_route53_zone.zone.zone_id
  name    = var.public_name
  type    = "A"
  alias {
    name                   = "${var.initial_site}.${var.public_name}"
    zone_id                = data.aws_route53_zone.zone.zone_id
    evaluate_target_health = false
  }
  lifecycle {
    ignore_changes = [alias]
  }
}

# The record had no count before create_alias: keep it (it is the live
# public name) rather than destroy and create it again.
moved {
  from = aws_route53_record.public
  to   = aws_route53_record.public[0]
}
