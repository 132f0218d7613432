"""Control: the CloudTrail control plane (trails, selectors, status, tags) and its durable state."""
