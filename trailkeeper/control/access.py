"""Who sees and changes which trail: the caller (account, region, organization) and a Name in, a Trail out.

A trail lives in its account and home region. In another region it exists only as a shadow, and
only if it is multi-region. Organization trails also appear, read-only, in the member accounts
of the organization. A plain name finds only the caller's own trail whose home is the calling
region; anything else needs the trail ARN (DescribeTrails and GetTrailStatus docs).
Changes are allowed only to the owning account, in the home region.
"""

from __future__ import annotations

from dataclasses import dataclass

from trailkeeper.control import errors
from trailkeeper.control.model import Trail, trail_arn
from trailkeeper.control.store import TrailStore
from trailkeeper.control.validation import TrailRef, parse_trail_ref
from trailkeeper.errors import internal_failure
from trailkeeper.organizations import Organization, organization_of
from trailkeeper.services.registry import CallEnv

__all__ = ["Caller", "caller_of", "changeable", "present_in", "readable", "store_of", "visible_trails"]


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    region: str
    organization: Organization | None

    def sees(self, trail: Trail) -> bool:
        """The owner; for an organization trail of its management account, all its organization's accounts."""
        if trail.account_id == self.account_id:
            return True
        org = self.organization
        return trail.is_organization and org is not None and org.is_management(trail.account_id)


def caller_of(env: CallEnv) -> Caller:
    account = env.principal.account_id
    return Caller(account, env.region, organization_of(env.app.settings, account))


def store_of(env: CallEnv) -> TrailStore:
    if env.app.trails is None:  # the server always wires one; a missing store is a wiring bug
        raise internal_failure("The trail store is not available.")
    return env.app.trails


def present_in(trail: Trail, region: str) -> bool:
    """Whether the trail (or its shadow) exists in ``region``."""
    return trail.home_region == region or trail.is_multi_region


async def _find(store: TrailStore, caller: Caller, ref: TrailRef) -> Trail | None:
    if not ref.is_arn:
        return await store.get(trail_arn(caller.region, caller.account_id, ref.name))
    trail = await store.get(ref.given)
    # Inference: a single-region trail has no copy in other regions, so its ARN is unknown there.
    if trail is None or not caller.sees(trail) or not present_in(trail, caller.region):
        return None
    return trail


async def readable(store: TrailStore, caller: Caller, name: str, *, arn_in_message: bool = False) -> Trail:
    """The trail ``name`` designates for a read; TrailNotFoundException naming what was given.

    ``arn_in_message``: name a plain name's ARN in the error instead (GetTrailStatus does; moto
    notes the same).
    """
    ref = parse_trail_ref(name)
    trail = await _find(store, caller, ref)
    if trail is None:
        shown = (
            trail_arn(caller.region, caller.account_id, ref.name)
            if arn_in_message and not ref.is_arn
            else name
        )
        raise errors.trail_not_found(shown, caller.account_id)
    return trail


async def changeable(store: TrailStore, caller: Caller, name: str) -> Trail:
    """The trail ``name`` designates for a change: the caller's own, called in its home region."""
    trail = await readable(store, caller, name)
    if trail.account_id != caller.account_id:  # a member account changing its organization's trail
        raise errors.not_management_account(caller.account_id)
    if trail.home_region != caller.region:
        raise errors.home_region(trail.arn, trail.home_region, caller.region)
    return trail


async def visible_trails(store: TrailStore, caller: Caller) -> list[Trail]:
    """Every trail the caller can see in any region: its own and its organization's trails."""
    trails = await store.trails_of(caller.account_id)
    org = caller.organization
    if org is not None and not org.is_management(caller.account_id):
        trails += [t for t in await store.trails_of(org.management_account) if t.is_organization]
    return trails
