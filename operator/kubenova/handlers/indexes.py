"""Read models over kopf's indexes that more than one handler reads: today, each namespace's
quota limits and usage.

:func:`quota_limits` and :func:`quota_usage` are read by the admission webhook
(:mod:`kubenova.handlers.admission`), by the Server step (checking a create or a resize again under
the scheduler's lock) and by Quota status (:mod:`kubenova.handlers.quotas`). The indexes they read
are declared beside them. The counting itself is pure (:mod:`kubenova.quotas`); what this module
adds is where the facts come from.

Usage is counted from the objects (Servers' statuses, Keypairs, ServerGroups), never kept in a
counter that a restart could lose, and overlaid with what this process has just admitted and the
index has not seen yet (``Placement.charged``), so that concurrent creates can never pass a limit.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova import quotas
from kubenova.api.common import GROUP, VERSION
from kubenova.api.quotas import QUOTA_NAME
from kubenova.handlers import common, state

# --- indexes ------------------------------------------------------------------------------------


@kopf.index(GROUP, VERSION, "keypairs")
async def quota_keypairs(*, namespace: str | None, name: str, **_: Any) -> dict[str, str]:
    return {namespace or "": name}


@kopf.index(GROUP, VERSION, "servergroups")
async def quota_server_groups(*, namespace: str | None, name: str, **_: Any) -> dict[str, str]:
    return {namespace or "": name}


@kopf.index(GROUP, VERSION, "quotas")
async def quota_specs(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, Any]:
    # Only 'default' counts (the CRD refuses other names; this guards an old object).
    return {namespace or "": dict(spec)} if name == QUOTA_NAME else {}


# --- read models --------------------------------------------------------------------------------


def quota_limits(memo: kopf.Memo, indexes: dict[str, Any], namespace: str) -> dict[str, int]:
    """The namespace's limits: its Quota's spec over the operator's defaults (Nova's, unless set)."""
    defaults = {**quotas.NOVA_DEFAULTS, **state.of(memo).settings.default_quota}
    return quotas.limits(common.first(indexes["quota_specs"], namespace), defaults)


def quota_usage(memo: kopf.Memo, indexes: dict[str, Any], namespace: str) -> quotas.Usage:
    """The namespace's usage: the index's (summed as it changes, ``placement.usage``), overlaid
    with this process's admissions not yet in it."""
    placement = state.of(memo).placement
    servers = placement.usage.servers.get(namespace, {})
    instances, cores, ram = placement.usage.sums.get(namespace, (0, 0, 0))
    charged = placement.charged
    for key, held in list(charged.items()):
        ns, name = key.split("/", 1)
        if ns != namespace:
            continue
        indexed = servers.get(name)
        if indexed == held:
            del charged[key]  # the index has caught up
            continue
        if indexed is not None:
            instances, cores, ram = instances - 1, cores - indexed.cores, ram - indexed.ram
        if held is not None:
            instances, cores, ram = instances + 1, cores + held.cores, ram + held.ram
    return quotas.Usage(
        instances=instances,
        cores=cores,
        ram=ram,
        key_pairs=len(list(indexes["quota_keypairs"].get(namespace, []))),
        server_groups=len(list(indexes["quota_server_groups"].get(namespace, []))),
    )
