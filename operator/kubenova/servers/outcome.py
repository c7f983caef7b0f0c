"""What a phase of the Server planner returns: an :class:`Outcome` (one Nova transition: the
status write, the ledger and quota overlays, Events, a ServerAction's end), which the executor
(:mod:`kubenova.handlers.server_executor`) carries out in that order.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from kubenova.quotas import ServerUsage
from kubenova.scheduling.claims import Claim
from kubenova.servers.bodies import Patch


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event about the Server (its ``action`` is Nova's action name)."""

    type: Literal["Normal", "Warning"]
    reason: str
    action: str
    note: str


@dataclasses.dataclass(frozen=True, slots=True)
class Settle:
    """The end of an action to record in the ServerAction that asked for it."""

    name: str
    request_id: str | None
    error: str | None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One Nova transition, as the executor carries it out, in this order: the status write,
    the ledger and quota overlays, the Events, the ServerAction's end."""

    patch: Patch | None = None
    """The status write (one per transition); None: nothing to write."""
    claims: dict[str, Claim | None] = dataclasses.field(default_factory=dict)
    """Claims written or released (None), by ledger key, until the index shows them."""
    charges: dict[str, ServerUsage | None] = dataclasses.field(default_factory=dict)
    """Quota usage admitted, by server key, until the index shows it."""
    events: tuple[Event, ...] = ()
    settle: Settle | None = None
    placed: bool = False
    """A first placement: no workload can exist yet, so it is made without a read first."""
    log: str | None = None
    """What the operator's log says of it."""
    wake: tuple[str, ...] = ()
    """Claims ("namespace/name") this transition let go of: servers waiting for them try again."""


NOTHING = Outcome()
