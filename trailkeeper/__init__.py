"""trailkeeper: a self-hosted, CloudTrail-compatible audit trail for AWS-style APIs."""

__all__ = ["__version__"]

__version__ = "0.1.0"
