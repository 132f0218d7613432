"""Organization membership from Settings: an account id in, its organization and role in it out.

Stands in for AWS Organizations: the config's [organization] section names one organization, its
management account and its member accounts. Organization trails (created by the management
account) cover every account returned by ``Organization.accounts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from trailkeeper.config import OrganizationConfig, Settings

__all__ = ["Organization", "organization_of"]


@dataclass(frozen=True, slots=True)
class Organization:
    id: str  # "o-exampleorgid"
    management_account: str
    members: tuple[str, ...]  # member accounts, the management account not included

    @classmethod
    def from_config(cls, config: OrganizationConfig) -> Organization:
        members = tuple(m for m in config.members if m != config.management_account)
        return cls(config.id, config.management_account, members)

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account of the organization, the management account first."""
        return (self.management_account, *self.members)

    def includes(self, account_id: str) -> bool:
        return account_id == self.management_account or account_id in self.members

    def is_management(self, account_id: str) -> bool:
        return account_id == self.management_account


def organization_of(settings: Settings, account_id: str) -> Organization | None:
    """The organization ``account_id`` belongs to (as management account or member), else None."""
    if settings.organization is None:
        return None
    org = Organization.from_config(settings.organization)
    return org if org.includes(account_id) else None
