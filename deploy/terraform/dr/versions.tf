terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: the modules read data.aws_region's `name`, which 6.0 renamed.
      version = "~> 5.40"
    }
    # The EKS module reads the OIDC issuer's certificate chain.
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0"
    }
  }
  # State: configure your own backend, e.g. `terraform init
  # -backend-config=...` with an S3 backend block added here.
}
