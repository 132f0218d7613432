"""Log file integrity: signing keys, signed and chained digest files, and their validation."""
