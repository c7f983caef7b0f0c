"""Workload backends: how a placed Server becomes a Pod or a KubeVirt VirtualMachine, and how
that workload's state maps back to Nova's.

Everything here is pure. :mod:`.workload` describes a placed server and what a backend observes;
each backend module (:mod:`.container`, :mod:`.kubevirt`) is a :class:`Backend`: it names its
workload's kind, renders it, observes it and says which Nova actions it cannot do.
:data:`BACKENDS` is the one place that maps a Server's ``backend`` to its module: the planner
(:mod:`kubenova.servers`), the actuation (:mod:`kubenova.kube.workloads`) and the workload
watches (:mod:`kubenova.handlers.servers`) all look a backend up there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from kubenova.backends import container, kubevirt
from kubenova.backends.workload import Observation, PlacedServer


class Backend(Protocol):
    """What every backend module provides (a module satisfies this Protocol)."""

    # Read-only members (a module's constants satisfy them).
    @property
    def NAME(self) -> str:
        """The Server's ``backend`` value."""

    @property
    def API_VERSION(self) -> str: ...

    @property
    def KIND(self) -> str: ...

    @property
    def PLURAL(self) -> str:
        """The workload's resource, as kopf watches it."""

    @property
    def UNSUPPORTED(self) -> Mapping[str, str]:
        """Nova actions (by :class:`kubenova.nova.actions.Action` value) it refuses, and why."""

    @property
    def KEY_SECRET(self) -> bool:
        """Whether the guest reads its public key from a Secret (else from the workload itself)."""

    @property
    def KEEPS_STOPPED(self) -> bool:
        """Whether a stopped workload is kept (a halted VM) rather than deleted (a Pod)."""

    def render(self, s: PlacedServer) -> dict[str, Any]: ...

    def observe(self, body: Mapping[str, Any] | None) -> Observation: ...


BACKENDS: Mapping[str, Backend] = {container.NAME: container, kubevirt.NAME: kubevirt}
DEFAULT = container.NAME
"""A status that names no backend (an old object) is the container backend's."""


def of(name: str | None) -> Backend:
    """The backend a Server's status names (the container backend if it names none)."""
    return BACKENDS.get(name or DEFAULT, container)
