"""``networks`` and ``security_groups`` of ``POST /servers``, as a Server's ``spec.networks`` and
``spec.securityGroups`` (see :mod:`kubenova.backends.networks`). Called by :mod:`.servers`.

A network's ``uuid`` is a NetworkAttachmentDefinition of the project: its uid, or its name (or
``namespace/name``), or ``pod`` for the pod network. ``auto`` and ``none`` (2.37) are kept as
they are. Ports are refused (there is no Neutron). A network that does not exist is found by
the operator, which faults the server (a 400 naming it) as Nova refuses the request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubenova.api.servers import NETWORK_REF
from kubenova.compute_api.errors import NovaError, bad_request

_NETWORK = re.compile(NETWORK_REF)


def networks(value: Any, uids: Mapping[str, str]) -> list[dict[str, str]] | None:
    """``spec.networks`` for Nova's ``networks`` (``uids``: the project's attachments' names by
    uid); None when left out."""
    if value is None:
        return None
    if value in ("auto", "none"):
        return [{"network": str(value)}]
    if not isinstance(value, list):
        raise bad_request(f"Invalid input for field/attribute networks. Value: {value}.")
    out: list[dict[str, str]] = []
    for entry in value:
        if not isinstance(entry, Mapping):
            raise bad_request(f"Invalid input for field/attribute networks. Value: {value}.")
        if entry.get("port"):
            raise bad_request("Requesting a port is not supported: kubenova has no Neutron ports; give a network uuid.")
        ref = str(entry.get("uuid") or "")
        name = uids.get(ref, ref)
        if not name or not _NETWORK.match(name) or name in ("auto", "none"):
            raise bad_request(f"Bad networks format: network uuid is not in proper format ({ref})")
        item = {"network": name}
        if entry.get("fixed_ip"):
            item["fixedIp"] = str(entry["fixed_ip"])
        if entry.get("tag"):
            item["tag"] = str(entry["tag"])
        out.append(item)
    return out


def security_groups(value: Any) -> list[str] | None:
    """``spec.securityGroups`` for Nova's ``security_groups`` (``[{"name": ...}]``); None when left out."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(g, Mapping) and g.get("name") for g in value):
        raise bad_request(f"Invalid input for field/attribute security_groups. Value: {value}.")
    return list(dict.fromkeys(str(g["name"]) for g in value))


def shown(spec: Mapping[str, Any]) -> list[dict[str, str]]:
    """A server's ``security_groups`` as Nova shows them."""
    return [{"name": g} for g in spec.get("securityGroups") or ["default"]]


def changed_groups(spec: Mapping[str, Any], action: str, arg: Any, ident: str) -> list[str]:
    """``spec.securityGroups`` after Nova's addSecurityGroup or removeSecurityGroup, or Nova's 400/404."""
    name = arg.get("name") if isinstance(arg, Mapping) else None
    if not isinstance(name, str) or not name:
        raise bad_request(f"Invalid input for field/attribute {action}. 'name' is a required property")
    groups = list(spec.get("securityGroups") or ["default"])
    if action == "addSecurityGroup":
        if name in groups:
            raise bad_request(f"Security group {name} is already associated with the instance {ident}")
        return [*groups, name]
    if name not in groups:
        raise NovaError(404, f"Security group {name} not associated with the instance {ident}")
    return [g for g in groups if g != name]
