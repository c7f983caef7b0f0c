"""Availability zones: the one place that says which zone a host is in.

A host's zone is the zone of the aggregates it belongs to (the webhook and the CRD refuse a host
in two aggregates with different zones, so there is at most one), and Nova's
``default_availability_zone``, ``nova``, for a host in no zoned aggregate. Read by the Host
status, the scheduler's host states and the placement written into a Server's status.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_ZONE = "nova"
"""Nova's ``[DEFAULT] default_availability_zone``."""


def zone_of(aggregates: Iterable[tuple[str, str | None]]) -> str:
    """The zone of a host from its ``(aggregate name, zone or None)`` pairs.

    Sorted by aggregate name so that, should two zones ever meet (an apply that raced the
    webhook), every reader picks the same one.
    """
    return next((zone for _, zone in sorted(aggregates, key=lambda a: a[0]) if zone), DEFAULT_ZONE)
