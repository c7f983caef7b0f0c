"""Pure pieces of the server writes besides the create's spec (:mod:`server_views`): what an
update or rebuild may change and what it answers, and the access addresses Nova records."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from kubenova.compute_api.errors import bad_request
from kubenova.compute_api.microversions import Version
from kubenova.compute_api.views import object_name

# What Nova's update and rebuild answers leave out before 2.75 (show_extended_attr=False,
# show_AZ=False, show_keypair=False... in its views); from 2.75 they answer as show does.
_SHOW_ONLY = ("config_drive", "key_name", "security_groups", "os-extended-volumes:volumes_attached", "host_status")
_SHOW_ONLY_PREFIXES = ("OS-EXT-", "OS-SRV-USG:")


def update_view(view: dict[str, Any], version: Version, *, rebuild: bool = False) -> dict[str, Any]:
    """A show view trimmed to what ``PUT /servers/{id}`` (or a rebuild) answers at ``version``."""
    if version.at_least("2.75"):  # show's, but user data only as rebuild's own user_data (2.57)
        return {k: v for k, v in view.items() if k != "OS-EXT-SRV-ATTR:user_data"}
    keep = {"key_name"} if rebuild and version.at_least("2.54") else set()  # a rebuild may set it from 2.54
    out = {
        k: v for k, v in view.items() if k in keep or (k not in _SHOW_ONLY and not k.startswith(_SHOW_ONLY_PREFIXES))
    }
    if isinstance(out.get("addresses"), Mapping):  # addresses without show's OS-EXT-IPS extensions
        out["addresses"] = {
            net: [{k: v for k, v in a.items() if not k.startswith("OS-EXT-IPS")} for a in addrs]
            for net, addrs in out["addresses"].items()
        }
    return out


ACCESS_IP = {"accessIPv4": "compute.kubenova.io/access-ipv4", "accessIPv6": "compute.kubenova.io/access-ipv6"}
"""Nova's accessIPv4/accessIPv6: addresses a user records for the server (Nova stores them and
does nothing with them), kept in annotations; the Server's spec has no field for them."""


def access_ip_annotations(body: Mapping[str, Any]) -> dict[str, str | None]:
    """The annotations for the accessIPv4/accessIPv6 of a create or update (empty: removed), or
    Nova's 400 for a value that is not an address of that family."""
    out: dict[str, str | None] = {}
    for key, family in (("accessIPv4", 4), ("accessIPv6", 6)):
        if key not in body:
            continue
        value = body[key]
        if value in (None, ""):
            out[ACCESS_IP[key]] = None
            continue
        try:
            address = ipaddress.ip_address(str(value))
        except ValueError:
            address = None
        if address is None or address.version != family:
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. '{value}' is not a 'ipv{family}'"
            )
        out[ACCESS_IP[key]] = str(address)  # normalized, as Nova stores it (an IP address, not text)
    return out


def rebuild_extras(arg: Mapping[str, Any], version: Version) -> dict[str, Any]:
    """What a rebuild may change besides the image, name and metadata: key_name (2.54, null
    removes it), user_data (2.57) and description (2.19)."""
    out: dict[str, Any] = {}
    if version.at_least("2.54") and "key_name" in arg:
        out["keyName"] = object_name(str(arg["key_name"])) if arg["key_name"] else None
    if version.at_least("2.57") and "user_data" in arg:
        out["userData"] = arg["user_data"] or None
    if version.at_least("2.19") and "description" in arg:
        out["description"] = arg["description"]
    return out
