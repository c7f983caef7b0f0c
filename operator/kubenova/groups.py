"""Status of the kinds that group others, pure: an Aggregate (hosts, zone) and a ServerGroup
(members and the hosts they are on), as ``openstack aggregate show`` and ``server group show``
would print them, with a Ready condition.

Pure; called by :mod:`kubenova.handlers.groups`, which feeds it facts from kopf's indexes and
writes the result only when it differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubenova import conditions


def aggregate_status(
    *,
    uid: str,
    spec: Mapping[str, Any],
    compute_hosts: Iterable[str],
    previous: Mapping[str, Any],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """``hosts``: the spec's hosts that are compute hosts; ``missingHosts``: those that are not
    (yet): Nova refuses an unknown host, kubenova keeps it listed and says so."""
    known = set(compute_hosts)
    wanted = list(dict.fromkeys(spec.get("hosts", [])))
    missing = [h for h in wanted if h not in known]
    ok = not missing
    message = "All hosts are compute hosts." if ok else f"Not compute hosts (no such Node): {', '.join(missing)}."
    return {
        "id": uid,
        "availabilityZone": spec.get("availabilityZone"),
        "hosts": [h for h in wanted if h in known],
        "missingHosts": missing,
        "observedGeneration": generation,
        "conditions": conditions.ready(
            previous,
            ok=ok,
            reason="Applied" if ok else "HostsMissing",
            message=message,
            generation=generation,
            now=now,
        ),
    }


def server_group_status(
    *,
    uid: str,
    namespace: str,
    members: Iterable[str],
    hosts: Iterable[str],
    previous: Mapping[str, Any],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """``members``: the servers that name the group; ``hosts``: where they run."""
    refs = [{"namespace": namespace, "name": n} for n in sorted(set(members))]
    return {
        "id": uid,
        "members": refs,
        "memberCount": len(refs),
        "hosts": sorted(set(hosts)),
        "observedGeneration": generation,
        "conditions": conditions.ready(
            previous,
            ok=True,
            reason="Counted",
            message=f"{len(refs)} member(s).",
            generation=generation,
            now=now,
        ),
    }
