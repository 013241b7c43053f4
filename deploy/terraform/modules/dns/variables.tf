variable "zone_name" {
  description = "The public hosted zone, e.g. example.com."
  type        = string
}

variable "public_name" {
  description = "The blog's public name, e.g. blog.example.com."
  type        = string
}

variable "initial_site" {
  description = "The site the public name points at when created (dc)."
  type        = string
  default     = "dc"
}

variable "create_alias" {
  description = "Create the public alias; false until external-dns has published <initial_site>.<public_name>, its target."
  type        = bool
  default     = true
}
