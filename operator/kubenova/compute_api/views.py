"""Pure translators shared by the compute API's views (ids, names, links, timestamps, images)
and the views of flavors and keypairs: from kubenova's objects (as the API server stores them:
camelCase dicts) to Nova's JSON for a microversion. No I/O here.

The shapes follow Nova's view builders (``nova/api/openstack/compute/views/``) and its API
samples; where a field has no kubenova meaning it gets Nova's empty value. The server views are
in :mod:`kubenova.compute_api.server_views`, the hosts' in :mod:`kubenova.compute_api.host_views`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any

from kubenova.compute_api.microversions import Version

Obj = Mapping[str, Any]

NAME_ANNOTATION = "compute.kubenova.io/display-name"
"""The Nova name of an object made through the API whose kind has no displayName field (server
groups); a Server's Nova name lives in ``spec.displayName``."""
USER_ANNOTATION = "compute.kubenova.io/user-id"
"""Who created a server through the API (Nova's user_id)."""

POWER_CODES = {"NOSTATE": 0, "RUNNING": 1, "PAUSED": 3, "SHUTDOWN": 4, "CRASHED": 6, "SUSPENDED": 7}
PROGRESS_STATES = {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
FAULT_STATES = {"ERROR", "DELETED"}

IMAGE_PREFIX = "oci-"
"""An image id made from a container image reference: ``oci-`` and the reference in unpadded
url-safe base64, so that an id never holds a '/' (it goes into URLs) and maps back exactly."""


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def uid(obj: Obj) -> str:
    return str(_status(obj).get("id") or _meta(obj).get("uid") or "")


def timestamp(value: str | None) -> str | None:
    """Kubernetes' RFC 3339 time as Nova writes it (``2026-10-01T12:00:00Z``)."""
    if not value:
        return None
    return value.replace("+00:00", "Z")


# ---- images --------------------------------------------------------------------------------


def image_id(reference: str) -> str:
    return IMAGE_PREFIX + base64.urlsafe_b64encode(reference.encode()).decode().rstrip("=")


def image_reference(ref: str) -> str:
    """The container image reference an imageRef names: an id made by :func:`image_id`, the
    last segment of an image URL, or else the reference itself."""
    if ref.startswith(IMAGE_PREFIX):
        tail = ref[len(IMAGE_PREFIX) :]
        try:
            return base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
    if ref.startswith(("http://", "https://")) and "/images/" in ref:
        return image_reference(ref.rsplit("/", 1)[-1])
    return ref


def image_view(reference: str, base: str, *, created: str | None = None) -> dict[str, Any]:
    """A Glance v2 image for a container image reference (a minimal view: there is no Image
    kind yet, so an image is its reference)."""
    ident = image_id(reference)
    when = created or "1970-01-01T00:00:00Z"
    return {
        "id": ident,
        "name": reference,
        "status": "active",
        "visibility": "public",
        "protected": False,
        "os_hidden": False,
        "disk_format": "raw",
        "container_format": "docker",
        "min_disk": 0,
        "min_ram": 0,
        "size": None,
        "virtual_size": None,
        "checksum": None,
        "os_hash_algo": None,
        "os_hash_value": None,
        "owner": None,
        "tags": [],
        "created_at": when,
        "updated_at": when,
        "self": f"/v2/images/{ident}",
        "file": f"/v2/images/{ident}/file",
        "schema": "/v2/schemas/image",
        "kubenova_reference": reference,
    }


# ---- names ---------------------------------------------------------------------------------

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def kube_name(nova_name: str, *, suffix: str | None = None) -> str:
    """A valid, unique Kubernetes name for a Nova name (which may be any string): its DNS-safe
    form, at most 40 characters, and a random suffix."""
    base = _NOT_DNS.sub("-", nova_name.lower()).strip("-")[:40].strip("-") or "server"
    return f"{base}-{suffix or secrets.token_hex(3)}"


_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def object_name(nova_name: str, *, limit: int = 253) -> str:
    """The Kubernetes name of an object whose Nova name is its key (a keypair, an aggregate):
    the name itself when it is a valid one, else its DNS-safe form and 8 hex digits of its
    sha256. The same Nova name always maps to the same object, so Nova's uniqueness (409 on a
    duplicate) is the API server's, and a lookup by name needs no list. The Nova name itself is
    kept in :data:`NAME_ANNOTATION` (:func:`nova_name`)."""
    if _DNS_NAME.match(nova_name) and len(nova_name) <= limit:
        return nova_name
    base = _NOT_DNS.sub("-", nova_name.lower()).strip("-.")[:40].strip("-.") or "x"
    return f"{base}-{hashlib.sha256(nova_name.encode()).hexdigest()[:8]}"


def name_annotations(nova_name: str) -> dict[str, str]:
    """The annotations that keep a Nova name the Kubernetes name cannot hold."""
    return {} if object_name(nova_name) == nova_name else {NAME_ANNOTATION: nova_name}


def nova_name(obj: Obj) -> str:
    """The Nova name of an object made by :func:`object_name` (or by kubectl: its name)."""
    return str((_meta(obj).get("annotations") or {}).get(NAME_ANNOTATION) or _meta(obj)["name"])


def display_name(obj: Obj) -> str:
    spec = _spec(obj)
    return str(spec.get("displayName") or _meta(obj).get("annotations", {}).get(NAME_ANNOTATION) or _meta(obj)["name"])


def last_segment(ref: str) -> str:
    """flavorRef and imageRef may be ids or URLs ending in one."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


# ---- servers -------------------------------------------------------------------------------


def link(base: str, collection: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/v2.1/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{ident}"},
    ]


def host_id(project: str, host: str | None) -> str:
    """Nova's hostId: sha224 of the project and the host, empty when not placed."""
    if not host:
        return ""
    return hashlib.sha224((project + host).encode()).hexdigest()


# ---- flavors -------------------------------------------------------------------------------


def flavor_id(obj: Obj) -> str:
    """A flavor's id is its Kubernetes name (``m1.small``): what ``Server.spec.flavor`` names."""
    return str(_meta(obj)["name"])


def flavor_brief(obj: Obj, base: str, version: Version) -> dict[str, Any]:
    # The name is Nova's, kept in an annotation when the API made the flavor with an id of its
    # own; a Flavor made with kubectl is named by its id.
    out: dict[str, Any] = {"id": flavor_id(obj), "name": nova_name(obj), "links": link(base, "flavors", flavor_id(obj))}
    if version.at_least("2.55"):
        out["description"] = _spec(obj).get("description")
    return out


def flavor_view(obj: Obj, base: str, version: Version) -> dict[str, Any]:
    spec = _spec(obj)
    out = flavor_brief(obj, base, version)
    out.update(
        {
            "ram": spec.get("ram", 0),
            "vcpus": spec.get("vcpus", 0),
            "disk": spec.get("disk", 0),
            "swap": spec.get("swap", 0) if version.at_least("2.75") else (spec.get("swap") or ""),
            "OS-FLV-EXT-DATA:ephemeral": spec.get("ephemeral", 0),
            "os-flavor-access:is_public": spec.get("isPublic", True),
        }
    )
    if not version.at_least("2.102"):
        out["OS-FLV-DISABLED:disabled"] = False
        out["rxtx_factor"] = spec.get("rxtxFactor", 1.0)
    if version.at_least("2.61"):
        out["extra_specs"] = dict(spec.get("extraSpecs") or {})
    return out


def flavor_visible(obj: Obj, project: str | None, *, admin: bool) -> bool:
    spec = _spec(obj)
    return admin or spec.get("isPublic", True) or (project is not None and project in (spec.get("access") or []))


# ---- keypairs ------------------------------------------------------------------------------


def keypair_view(obj: Obj, version: Version, *, user_id: str = "", detail: bool = False) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    out: dict[str, Any] = {
        "name": nova_name(obj),
        "public_key": status.get("publicKey") or spec.get("publicKey") or "",
        "fingerprint": status.get("fingerprint") or "",
    }
    if version.at_least("2.2"):
        out["type"] = status.get("type") or spec.get("type", "ssh")
    if detail:
        out.update(
            {
                "user_id": user_id,
                "created_at": timestamp(meta.get("creationTimestamp")),
                "deleted": False,
                "deleted_at": None,
                "updated_at": None,
                "id": int(hashlib.sha256(str(meta.get("uid", "")).encode()).hexdigest()[:8], 16),
            }
        )
    return out
