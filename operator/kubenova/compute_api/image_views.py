"""Glance v2's JSON for an Image (the cluster-scoped kind), pure: its shape, who sees it, and the
filters of ``GET /v2/images``.

An image's id is :func:`kubenova.compute_api.views.image_id` of its name, the same id a server's
``image`` shows (a Server names its Image in ``spec.image``), so ``openstack server show`` and
``openstack image show`` agree and the id maps back to the name without a lookup. Glance's own
id, the object's uid (``status.id``), is accepted too where an id is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubenova import images as rules
from kubenova.compute_api.views import image_id

Obj = Mapping[str, Any]
EPOCH = "1970-01-01T00:00:00Z"
# Glance's own keys: a property of these names would clash with the image's fields, so it is
# not flattened (Glance refuses to create such properties in the first place).
RESERVED = frozenset(
    {
        "id", "name", "status", "visibility", "protected", "os_hidden", "disk_format", "container_format",
        "min_disk", "min_ram", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "owner",
        "tags", "created_at", "updated_at", "self", "file", "schema", "locations", "direct_url",
    }
)  # fmt: skip


def _hash_algo(digest: str | None) -> tuple[str | None, str | None]:
    """Glance's multihash from an OCI digest (``sha256:<hex>``): algorithm and value."""
    if digest and ":" in digest:
        algo, _, value = digest.partition(":")
        return algo, value
    return None, None


def glance_view(obj: Obj) -> dict[str, Any]:
    """An Image as Glance v2 shows it: properties flattened into the image, owner the project."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    name = str(meta["name"])
    ident = image_id(name)
    created = str(meta.get("creationTimestamp") or EPOCH)
    algo, value = _hash_algo(status.get("checksum"))
    out: dict[str, Any] = {
        "id": ident,
        "name": name,
        "status": rules.glance_status(spec, status),
        "visibility": spec.get("visibility", "shared"),
        "protected": bool(spec.get("protected", False)),
        "os_hidden": False,
        "disk_format": spec.get("diskFormat"),
        "container_format": spec.get("containerFormat", "bare"),
        "min_disk": int(spec.get("minDisk", 0)),
        "min_ram": int(spec.get("minRam", 0)),
        "size": status.get("size"),
        "virtual_size": None,
        "checksum": status.get("checksum"),
        "os_hash_algo": algo,
        "os_hash_value": value,
        "owner": spec.get("owner"),
        "tags": [],
        "created_at": created,
        "updated_at": str(status.get("updatedAt") or created),
        "self": f"/v2/images/{ident}",
        "file": f"/v2/images/{ident}/file",
        "schema": "/v2/schemas/image",
        "kubenova_uid": status.get("id") or meta.get("uid"),
        "kubenova_source_type": rules.source_type(spec),
    }
    for key, val in (spec.get("properties") or {}).items():
        if key not in RESERVED:
            out[key] = val
    return out


def visible(obj: Obj, project: str, *, admin: bool) -> bool:
    """Whether the caller's project may see the image: Glance's rules (public and community for
    everyone, private for the owner, shared for the owner and members); an admin sees every one."""
    return admin or rules.may_use(obj.get("spec") or {}, project)


def matches(obj: Obj, ident: str) -> bool:
    """Whether ``ident`` names the image: its API id, its name or its uid (Glance's id)."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return ident in (image_id(str(meta.get("name", ""))), meta.get("name"), status.get("id"), meta.get("uid"))


def listed(objs: Iterable[Obj], project: str, *, admin: bool, query: Mapping[str, str]) -> list[dict[str, Any]]:
    """``GET /v2/images`` with Glance's filters ``name``, ``visibility``, ``status``, ``owner``,
    ``disk_format``, ``container_format``, ``protected`` and ``id=in:``. Without ``visibility``,
    Glance leaves community images out unless they are the project's own; ``visibility=all``
    lists every visible one."""
    wanted = query.get("visibility")
    ids = query["id"][3:].split(",") if query.get("id", "").startswith("in:") else None
    out = []
    for obj in objs:
        if not visible(obj, project, admin=admin):
            continue
        view = glance_view(obj)
        if wanted is None and view["visibility"] == "community" and view["owner"] != project:
            continue
        if wanted not in (None, "all") and view["visibility"] != wanted:
            continue
        if ids is not None and not any(matches(obj, i) for i in ids):
            continue
        if any(
            key in query and str(view[key]).lower() != query[key].lower()
            for key in ("name", "status", "owner", "disk_format", "container_format", "protected")
        ):
            continue
        out.append(view)
    return sorted(out, key=lambda v: (v["created_at"], v["name"]), reverse=True)
