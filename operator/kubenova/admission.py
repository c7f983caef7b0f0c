"""What the admission webhook refuses, pure: each check takes the object and a :class:`View` of
the cluster (from kopf's indexes) and returns a :class:`Refusal` or None.

The webhook refuses only what is certainly wrong, with Nova's message and code: a private flavor
the namespace may not use, a keypair or server group that is not in the server's namespace, too
many metadata items, a create or resize that is over quota, a keypair or server group over quota,
a host put into two availability zones. Anything it cannot know for sure (a reference created a
moment ago that the indexes have not seen, two creates racing for the last instance) is left to
the operator, which checks again under the scheduler's lock and answers with a fault in status.
So the webhook can be down (``failurePolicy: Ignore``) without letting anything through for good.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kubenova import images, quotas


@dataclasses.dataclass(frozen=True)
class Refusal:
    """An admission error as Nova's API would give it."""

    message: str
    code: int = 400


@dataclasses.dataclass(frozen=True)
class View:
    """What the checks may read; the handler builds it from kopf's indexes."""

    flavor: Callable[[str], Mapping[str, Any] | None]
    keypair_exists: Callable[[str, str], bool]
    server_group_exists: Callable[[str, str], bool]
    group_members: Callable[[str, str], list[str]]
    limits: Callable[[str], Mapping[str, int]]
    usage: Callable[[str], quotas.Usage]
    host_zones: Callable[[str], list[tuple[str, str | None]]]
    """(aggregate, zone) of every aggregate a host is in."""
    image: Callable[[str], Mapping[str, Any] | None] = lambda _name: None
    """An Image (``{"spec", "status"}``) by name; None: ``spec.image`` is a plain reference."""


def server_create(namespace: str, name: str, spec: Mapping[str, Any], view: View) -> Refusal | None:
    flavor_name = spec.get("flavor", "")
    flavor = view.flavor(flavor_name)
    if flavor is not None and (r := _flavor_access(flavor_name, flavor, namespace)):
        return r
    if r := _image(spec.get("image"), namespace, flavor, view):
        return r
    key = spec.get("keyName")
    if key and not view.keypair_exists(namespace, key):
        return Refusal(keypair_missing(namespace, key))
    group = (spec.get("schedulerHints") or {}).get("group")
    if group and not view.server_group_exists(namespace, group):
        return Refusal(f"Server group {group} could not be found in {namespace}.", 404)
    limit = view.limits(namespace)
    if message := quotas.metadata_problem(spec.get("metadata"), limit):
        return Refusal(message, 403)
    if flavor is not None:
        request = quotas.server_request(int(flavor.get("vcpus", 0)), int(flavor.get("ram", 0)))
        if message := quotas.over_quota(request, view.usage(namespace), limit):
            return Refusal(message, 403)
    if group:
        members = [m for m in view.group_members(namespace, group) if m != name]
        if message := quotas.group_members_problem(len(members), limit):
            return Refusal(message, 403)
    return None


def server_update(
    namespace: str, old: Mapping[str, Any], new: Mapping[str, Any], status: Mapping[str, Any], view: View
) -> Refusal | None:
    """A changed flavor is a resize: the new flavor must be usable and its growth within quota."""
    limit = view.limits(namespace)
    if len(new.get("metadata") or {}) > len(old.get("metadata") or {}) and (
        message := quotas.metadata_problem(new.get("metadata"), limit)
    ):
        return Refusal(message, 403)
    if new.get("image") != old.get("image") and (
        r := _image(new.get("image"), namespace, view.flavor(new.get("flavor", "")), view)
    ):
        return r  # a rebuild: Nova checks its image as a create's
    name = new.get("flavor", "")
    if name == old.get("flavor"):
        return None
    flavor = view.flavor(name)
    if flavor is None:
        return None  # the operator says so in status (the flavor may be on its way)
    if r := _flavor_access(name, flavor, namespace):
        return r
    if r := _booted_image_fits(status, flavor):
        return r
    current = status.get("flavor") or view.flavor(old.get("flavor", "")) or {}
    if message := quotas.over_quota(quotas.resize_request(current, flavor), view.usage(namespace), limit):
        return Refusal(message, 403)
    return None


def keypair_create(namespace: str, view: View) -> Refusal | None:
    if message := quotas.keypair_problem(view.usage(namespace), view.limits(namespace)):
        return Refusal(message, 403)
    return None


def server_group_create(namespace: str, view: View) -> Refusal | None:
    if message := quotas.server_group_problem(view.usage(namespace), view.limits(namespace)):
        return Refusal(message, 403)
    return None


def aggregate(name: str, spec: Mapping[str, Any], view: View) -> Refusal | None:
    """Nova's rule: a host may be in several aggregates, but not in two with different zones."""
    zone = spec.get("availabilityZone")
    if not zone:
        return None
    for host in spec.get("hosts", []):
        others = sorted({z for agg, z in view.host_zones(host) if agg != name and z and z != zone})
        if others:
            return Refusal(
                f"Cannot add host {host} in aggregate {name}: host {host} is already in availability "
                f"zone(s) {', '.join(others)}; a host can be in one availability zone only."
            )
    return None


def image_delete(name: str, spec: Mapping[str, Any]) -> Refusal | None:
    """Glance's protected images cannot be deleted (403): unset ``protected`` first."""
    if spec.get("protected"):
        return Refusal(f"Image {name} is protected and cannot be deleted: set spec.protected to false first.", 403)
    return None


def flavor_problem(name: str, flavor: Mapping[str, Any] | None, namespace: str) -> str | None:
    """Why ``namespace`` cannot use the flavor ``name`` (None: it can). Also the operator's check."""
    if flavor is None:
        return f"Flavor {name} could not be found."
    if not flavor.get("isPublic", True) and namespace not in flavor.get("access", []):
        return f"Flavor {name} is private and namespace {namespace} is not on its access list."
    return None


def keypair_missing(namespace: str, key: str) -> str:
    """Nova's message for a key_name that is not a Keypair of the server's namespace."""
    return f"Invalid key_name provided: Keypair {key} not found in {namespace}."


def _flavor_access(name: str, flavor: Mapping[str, Any], namespace: str) -> Refusal | None:
    problem = flavor_problem(name, flavor, namespace)
    return Refusal(problem) if problem else None


def _image(name: str | None, namespace: str, flavor: Mapping[str, Any] | None, view: View) -> Refusal | None:
    """Nova's checks of the Image a server boots (none if ``name`` is a plain reference)."""
    image = view.image(name) if name else None
    if name is None or image is None:
        return None
    problem = images.boot_problem(name, image, namespace, flavor)
    return Refusal(problem.message, problem.code) if problem else None


def _booted_image_fits(status: Mapping[str, Any], flavor: Mapping[str, Any]) -> Refusal | None:
    problem = images.resize_problem(status.get("imageSource"), str(status.get("image")), flavor)
    return Refusal(problem.message, problem.code) if problem else None
