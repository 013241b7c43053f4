terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
  # State: configure your own backend, e.g. `terraform init
  # -backend-config=...` with an S3 backend block added here.
}
