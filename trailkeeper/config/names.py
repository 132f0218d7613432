"""AWS naming rules shared by the config reader and the CloudTrail API: a string in, valid or not out."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["ACCOUNT_ID", "ORGANIZATION_ID", "is_bucket_name", "is_ip_address"]

ACCOUNT_ID = re.compile(r"\d{12}")
# Organizations' id pattern (API_Organization.html): "o-" then 10 to 32 lowercase letters or digits.
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")

# S3 general purpose bucket naming rules (S3 User Guide, "Bucket naming rules"): 3-63 characters of
# lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_bucket_name(name: str) -> bool:
    """Whether S3 would accept ``name`` for a new general purpose bucket."""
    return (
        _BUCKET.fullmatch(name) is not None
        and ".." not in name
        and not is_ip_address(name)
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )
