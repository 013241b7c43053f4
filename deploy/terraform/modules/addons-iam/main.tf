# The cluster add-ons' AWS identities at one site, each for one Kubernetes
# ServiceAccount, reached through IRSA (web identity) or EKS Pod Identity
# as modules/revenant-iam offers them:
#   aws-load-balancer-controller  the ALB of the Ingress (deploy/k8s/base/ingress.yaml)
#   external-dns                  the site's own name only (below)
#   cluster-autoscaler            the managed node groups' sizes
#
# cluster-autoscaler rather than Karpenter: managed node groups whose Auto
# Scaling groups EKS already tags for discovery, and a workload whose
# only elastic part is the front end (2-10 small replicas; Ghost is a single
# writer).  Karpenter would add its own node role and instance profile, an
# SQS interruption queue with EventBridge rules, and NodePool objects to
# keep in step with the node groups, for bin-packing this cluster does not
# need.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition    = data.aws_partition.current.partition
  external_dns = length(var.external_dns_names) > 0
  oidc_host    = replace(var.oidc_provider_url, "https://", "")
  controllers = merge(
    {
      aws-load-balancer-controller = var.load_balancer_controller_service_account
      cluster-autoscaler           = var.cluster_autoscaler_service_account
    },
    # Keyed on the names, known at plan time, not on the zone's id, which
    # may come from a data source.
    local.external_dns ? { external-dns = var.external_dns_service_account } : {},
  )
  # Locals are evaluated even when unused: no zone, no ARN (a null in the
  # template would fail the plan).
  zone_arn = var.route53_zone_id == null ? null : "arn:${local.partition}:route53:::hostedzone/${var.route53_zone_id}"
  # The names external-dns may write: each site name, and the TXT ownership
  # records its registry keeps beside it (at the name itself and at
  # <type>-<name>, external-dns's current format; run it without
  # --txt-prefix/--txt-suffix, or add those names here).  Route 53 compares
  # them lower-case, without the trailing dot.
  external_dns_records = distinct(flatten([
    for n in var.external_dns_names : [
      for p in ["", "a-", "aaaa-", "cname-"] : "${p}${lower(trimsuffix(n, "."))}"
    ]
  ]))
}

# ---- AWS Load Balancer Controller ----

# The controller's documented policy (kubernetes-sigs/aws-load-balancer-controller,
# docs/install/iam_policy.json, as of v2.14; compare it when upgrading the
# controller): it creates security groups, load balancers
# and target groups only with its cluster tag (elbv2.k8s.aws/cluster) and
# modifies or deletes only those carrying it.
data "aws_iam_policy_document" "load_balancer_controller" {
  source_policy_documents = [replace(file("${path.module}/aws-load-balancer-controller.json"), "arn:aws:", "arn:${local.partition}:")]
}

# ---- external-dns ----

# The project's DNS design (docs/OPERATIONS.md, "Switching DNS";
# deploy/README.md, "DNS"): the public name is revenant's, and external-dns
# publishes only this site's own name (dc.<public name> or dr.<public name>).
# So it may change records of the one zone, and only those names and their
# ownership TXT records: a mistaken `host` on an Ingress, or another site's
# name, is refused by IAM rather than fought over with `revenant dns switch`.
data "aws_iam_policy_document" "external_dns" {
  count = local.external_dns ? 1 : 0
  statement {
    sid       = "SiteRecords"
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = [local.zone_arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
      values   = local.external_dns_records
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "route53:ChangeResourceRecordSetsRecordTypes"
      values   = ["A", "AAAA", "CNAME", "TXT"]
    }
  }
  statement {
    sid       = "ReadZone"
    actions   = ["route53:ListResourceRecordSets", "route53:ListTagsForResource"]
    resources = [local.zone_arn]
  }
  # ListHostedZones has no resource-level permissions; external-dns's
  # --zone-id-filter keeps it on this zone.
  statement {
    sid       = "FindZone"
    actions   = ["route53:ListHostedZones"]
    resources = ["*"]
  }
}

# ---- cluster-autoscaler ----

# Reads everywhere (the Describe calls have no resource-level permissions);
# changes only Auto Scaling groups tagged as this cluster's, which EKS does
# for its managed node groups (k8s.io/cluster-autoscaler/<cluster> = owned).
data "aws_iam_policy_document" "cluster_autoscaler" {
  statement {
    sid = "Discover"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "NodeGroups"
    actions   = ["eks:DescribeNodegroup"]
    resources = ["arn:${local.partition}:eks:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:nodegroup/${var.cluster_name}/*"]
  }
  statement {
    sid = "Scale"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["arn:${local.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}"
      values   = ["owned"]
    }
  }
}

# ---- who may take the roles ----

data "aws_iam_policy_document" "trust" {
  for_each = local.controllers
  dynamic "statement" {
    for_each = var.use_pod_identity ? [] : [1]
    content {
      sid     = "Irsa"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:sub"
        values   = ["system:serviceaccount:${each.value.namespace}:${each.value.name}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.use_pod_identity ? [1] : []
    content {
      sid     = "PodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each             = local.controllers
  name                 = "${var.name_prefix}-${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "load_balancer_controller" {
  name   = "aws-load-balancer-controller"
  role   = aws_iam_role.this["aws-load-balancer-controller"].id
  policy = data.aws_iam_policy_document.load_balancer_controller.json
}

resource "aws_iam_role_policy" "external_dns" {
  count  = local.external_dns ? 1 : 0
  name   = "external-dns"
  role   = aws_iam_role.this["external-dns"].id
  policy = data.aws_iam_policy_document.external_dns[0].json
  lifecycle {
    precondition {
      condition     = var.route53_zone_id != null
      error_message = "external_dns_names needs route53_zone_id, the zone they are in."
    }
  }
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  name   = "cluster-autoscaler"
  role   = aws_iam_role.this["cluster-autoscaler"].id
  policy = data.aws_iam_policy_document.cluster_autoscaler.json
}

resource "aws_eks_pod_identity_association" "this" {
  for_each        = var.use_pod_identity ? local.controllers : {}
  cluster_name    = var.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.name
  role_arn        = aws_iam_role.this[each.key].arn
}
