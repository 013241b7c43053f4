output "bucket" {
  description = "The bucket's name."
  value       = aws_s3_bucket.replica.id
}

output "arn" {
  description = "The bucket's ARN."
  value       = aws_s3_bucket.replica.arn
}
