"""Delivery: journal → trail log files in buckets, then notifications and streams (SNS, Logs, EventBridge)."""
