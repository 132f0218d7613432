"""Storage: buckets that receive log and digest files (local folders or any S3 endpoint)."""
