"""Pure translators from kubenova's objects (as the API server stores them: camelCase dicts) to
Nova's JSON for a microversion, and from Nova's request bodies back to specs. No I/O here.

The shapes follow Nova's view builders (``nova/api/openstack/compute/views/``) and its API
samples; where a field has no kubenova meaning it gets Nova's empty value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from kubenova.compute_api.errors import bad_request
from kubenova.compute_api.microversions import Version
from kubenova.nova import actions as nova
from kubenova.nova.states import api_status
from kubenova.servers import intent

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


def server_brief(obj: Obj, base: str) -> dict[str, Any]:
    ident = uid(obj)
    return {"id": ident, "name": display_name(obj), "links": link(base, "servers", ident)}


def _embedded_flavor(obj: Obj, flavor: Obj | None, version: Version) -> dict[str, Any]:
    spec, status = _spec(obj), _status(obj)
    placed = status.get("flavor")
    if placed:
        out: dict[str, Any] = {
            "vcpus": placed.get("vcpus", 0),
            "ram": placed.get("ram", 0),
            "disk": placed.get("disk", 0),
            "ephemeral": placed.get("ephemeral", 0),
            "swap": placed.get("swap", 0),
            "original_name": placed.get("originalName", spec.get("flavor")),
            "extra_specs": dict(placed.get("extraSpecs") or {}),
        }
    else:
        fs = _spec(flavor) if flavor else {}
        out = {
            "vcpus": fs.get("vcpus", 0),
            "ram": fs.get("ram", 0),
            "disk": fs.get("disk", 0),
            "ephemeral": fs.get("ephemeral", 0),
            "swap": fs.get("swap", 0),
            "original_name": spec.get("flavor"),
            "extra_specs": dict(fs.get("extraSpecs") or {}),
        }
    return out


PENDING_ACTIONS = {
    "reboot": nova.Action.REBOOT,
    "migrate": nova.Action.MIGRATE,
    "liveMigrate": nova.Action.LIVE_MIGRATE,
    "evacuate": nova.Action.EVACUATE,
    "revertResize": nova.Action.REVERT_RESIZE,
}


def pending(obj: Obj, server_actions: Sequence[Mapping[str, Any]] | None = None) -> tuple[str, str] | None:
    """(status, task_state) of a change written but not yet taken up by the operator.

    Nova sets the task state before its API answers, so a client polling right after a rebuild,
    a resize or a reboot never sees the old state as the outcome. Here the API only writes the
    spec or a ServerAction, so until the operator has seen it (the spec's generation is not yet
    ``status.observedGeneration``; a ServerAction has no phase) the view shows the first task
    state of what the operator will do, which it decides with the same rules
    (:func:`kubenova.servers.intent.wanted`)."""
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    if not status.get("vmState") or status.get("taskState"):
        return None
    action: nova.Action | None = None
    for sa in server_actions or []:
        sspec = sa.get("spec") or {}
        if sspec.get("server") == meta.get("name") and not (sa.get("status") or {}).get("phase"):
            action = PENDING_ACTIONS.get(str(sspec.get("action")))
            if action is nova.Action.REBOOT and sspec.get("type") == "HARD":
                action = nova.Action.REBOOT_HARD
    if action is None and meta.get("generation") != status.get("observedGeneration"):
        wanted = intent.wanted(spec, status, lambda host: None)
        action = wanted if isinstance(wanted, nova.Action) else None
    if action is None:
        return None
    steps = nova.RULES[action].steps
    if not steps:
        return None
    return api_status(status["vmState"], steps[0]), str(steps[0])


def server_view(  # noqa: PLR0915 - a statement per Nova field
    obj: Obj,
    base: str,
    version: Version,
    *,
    admin: bool = False,
    image_base: str = "",
    flavor: Obj | None = None,
    show: bool = False,
    server_actions: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``GET /servers/{id}`` and each entry of ``/servers/detail`` at ``version``; a change not
    yet taken up by the operator shows as its first task state (:func:`pending`)."""
    meta, spec, status = _meta(obj), _spec(obj), dict(_status(obj))
    waiting = pending(obj, server_actions)
    if waiting:
        status["status"], status["taskState"] = waiting
    project = str(meta.get("namespace", ""))
    ident = uid(obj)
    nova_status = status.get("status") or "BUILD"
    created = timestamp(meta.get("creationTimestamp"))
    addresses: dict[str, list[dict[str, Any]]] = {}
    if nova_status != "BUILD":
        for a in status.get("addresses") or []:
            addresses.setdefault(a.get("network", "pod"), []).append(
                {
                    "addr": a.get("addr"),
                    "version": a.get("version", 4),
                    "OS-EXT-IPS:type": a.get("type", "fixed"),
                    "OS-EXT-IPS-MAC:mac_addr": a.get("macAddr"),
                }
            )
    if spec.get("image"):
        image: Any = {
            "id": image_id(spec["image"]),
            "links": [{"rel": "bookmark", "href": f"{image_base}/images/{image_id(spec['image'])}"}],
        }
        if version.at_least("2.98"):
            image["properties"] = {}
    else:
        image = ""
    if version.at_least("2.47"):
        flavor_out = _embedded_flavor(obj, flavor, version)
    else:
        flavor_out = {"id": spec.get("flavor"), "links": link(base, "flavors", str(spec.get("flavor")))[1:]}
    power = status.get("powerStateCode")
    if power is None:
        power = POWER_CODES.get(str(status.get("powerState") or "NOSTATE"), 0)
    host = status.get("host")
    out: dict[str, Any] = {
        "id": ident,
        "name": display_name(obj),
        "status": nova_status,
        "tenant_id": project,
        "user_id": meta.get("annotations", {}).get(USER_ANNOTATION, ""),
        "metadata": dict(spec.get("metadata") or {}),
        "hostId": host_id(project, host),
        "image": image,
        "flavor": flavor_out,
        "created": created,
        "updated": timestamp(status.get("updated")) or created,
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": link(base, "servers", ident),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": status.get("availabilityZone") or spec.get("availabilityZone") or "",
        "config_drive": "True" if spec.get("configDrive") else "",
        "key_name": spec.get("keyName"),
        "OS-SRV-USG:launched_at": _usg(status.get("launchedAt")),
        "OS-SRV-USG:terminated_at": _usg(status.get("terminatedAt")),
        "security_groups": [{"name": "default"}],
        "OS-EXT-STS:task_state": status.get("taskState"),
        "OS-EXT-STS:vm_state": status.get("vmState") or "building",
        "OS-EXT-STS:power_state": power,
        "os-extended-volumes:volumes_attached": [],
    }
    if nova_status in PROGRESS_STATES:
        out["progress"] = status.get("progress") or 0
    fault = status.get("fault")
    if nova_status in FAULT_STATES and fault:
        out["fault"] = {
            "code": fault.get("code", 500),
            "created": timestamp(fault.get("created")),
            "message": fault.get("message", ""),
        }
        if admin and fault.get("details"):
            out["fault"]["details"] = fault["details"]
    if admin:
        out["OS-EXT-SRV-ATTR:host"] = host
        out["OS-EXT-SRV-ATTR:instance_name"] = meta.get("name")
        out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = status.get("hypervisorHostname")
        if version.at_least("2.3"):
            out["OS-EXT-SRV-ATTR:reservation_id"] = ""
            out["OS-EXT-SRV-ATTR:launch_index"] = 0
            out["OS-EXT-SRV-ATTR:kernel_id"] = ""
            out["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            out["OS-EXT-SRV-ATTR:root_device_name"] = None
            out["OS-EXT-SRV-ATTR:user_data"] = spec.get("userData")
        if version.at_least("2.16"):
            out["host_status"] = "UP" if host else ""
    if version.at_least("2.3") and (admin or version.at_least("2.90")):
        out["OS-EXT-SRV-ATTR:hostname"] = spec.get("hostname") or meta.get("name")
    if version.at_least("2.9"):
        out["locked"] = bool(spec.get("locked"))
    if version.at_least("2.19"):
        out["description"] = spec.get("description")
    if version.at_least("2.26"):
        out["tags"] = list(spec.get("tags") or [])
    if version.at_least("2.63"):
        out["trusted_image_certificates"] = None
    if version.at_least("2.71") and show:
        group = (spec.get("schedulerHints") or {}).get("group")
        out["server_groups"] = [group] if group else []
    if version.at_least("2.73"):
        out["locked_reason"] = spec.get("lockedReason")
    if version.at_least("2.96"):
        out["pinned_availability_zone"] = spec.get("availabilityZone")
    if version.at_least("2.100"):
        hints = spec.get("schedulerHints") or {}
        out["scheduler_hints"] = {k: v for k, v in {"group": hints.get("group")}.items() if v}
    return out


def _usg(value: str | None) -> str | None:
    """OS-SRV-USG times carry no zone and microseconds (``2026-10-01T12:00:00.000000``)."""
    if not value:
        return None
    return value.replace("Z", "").replace("+00:00", "") + ("" if "." in value else ".000000")


def server_spec(body: Mapping[str, Any], *, flavor: str, hints: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Server's spec for ``POST /servers``'s ``server`` object (validated by the caller)."""
    spec: dict[str, Any] = {"flavor": flavor, "displayName": body["name"]}
    image = body.get("imageRef")
    if image:
        spec["image"] = image_reference(last_segment(str(image)) if "/images/" in str(image) else str(image))
    for key, ours in (
        ("key_name", "keyName"),
        ("user_data", "userData"),
        ("availability_zone", "availabilityZone"),
        ("description", "description"),
        ("hostname", "hostname"),
    ):
        if body.get(key):
            spec[ours] = body[key]
    if body.get("metadata"):
        spec["metadata"] = {str(k): str(v) for k, v in body["metadata"].items()}
    if body.get("tags"):
        spec["tags"] = list(body["tags"])
    if body.get("config_drive") in (True, "True", "true"):
        spec["configDrive"] = True
    hints = hints or {}
    sh: dict[str, Any] = {}
    if hints.get("group"):
        sh["group"] = str(hints["group"])
    for key, ours in (("same_host", "sameHost"), ("different_host", "differentHost")):
        value = hints.get(key)
        if value:
            sh[ours] = [value] if isinstance(value, str) else list(value)
    if sh:
        spec["schedulerHints"] = sh
    return spec


def validate_create(body: Any, version: Version) -> Mapping[str, Any]:
    """The ``server`` object of a create, or Nova's 400."""
    if not isinstance(body, Mapping) or not isinstance(body.get("server"), Mapping):
        raise bad_request("Invalid input for field/attribute server. Value: None. 'server' is a required property")
    server = body["server"]
    name = server.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Invalid input for field/attribute name. Value: None. 'name' is a required property")
    if len(name) > 255:
        raise bad_request("Invalid input for field/attribute name. Value: too long. It must be at most 255 characters")
    if not server.get("flavorRef"):
        raise bad_request("Invalid input for field/attribute flavorRef. 'flavorRef' is a required property")
    if version.at_least("2.37") and "networks" not in server:
        raise bad_request("Invalid input for field/attribute server. 'networks' is a required property")
    if not server.get("imageRef"):
        raise bad_request("Missing imageRef attribute")
    for bdm in server.get("block_device_mapping_v2") or []:
        # The image as the local root disk (what the openstack CLI sends with --image) is the
        # server's image; volumes are not supported yet.
        if not isinstance(bdm, Mapping) or bdm.get("source_type") != "image" or bdm.get("destination_type") != "local":
            raise bad_request("block_device_mapping_v2 with volumes is not supported by kubenova's Compute API yet.")
    md = server.get("metadata")
    if md is not None and (not isinstance(md, Mapping) or any(len(str(v)) > 255 for v in md.values())):
        raise bad_request("Invalid input for field/attribute metadata.")
    result: Mapping[str, Any] = server
    return result


# ---- flavors -------------------------------------------------------------------------------


def flavor_id(obj: Obj) -> str:
    """A flavor's id is its Kubernetes name (``m1.small``): what ``Server.spec.flavor`` names."""
    return str(_meta(obj)["name"])


def flavor_brief(obj: Obj, base: str, version: Version) -> dict[str, Any]:
    out: dict[str, Any] = {"id": flavor_id(obj), "name": flavor_id(obj), "links": link(base, "flavors", flavor_id(obj))}
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
        "name": meta["name"],
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


# ---- hosts as hypervisors and services -----------------------------------------------------


def stable_int(text: str) -> int:
    """A stable positive integer id for an object without one (Nova's ids before 2.53)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:7], 16) + 1


def hypervisor_view(obj: Obj, version: Version, *, detail: bool) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    uuid_ids = version.at_least("2.53")
    ident: Any = meta.get("uid") if uuid_ids else stable_int(str(meta.get("uid")))
    out: dict[str, Any] = {
        "id": ident,
        "hypervisor_hostname": status.get("hypervisorHostname") or meta.get("name"),
        "state": status.get("state") or "up",
        "status": status.get("status") or ("enabled" if spec.get("enabled", True) else "disabled"),
    }
    if not detail:
        return out
    out.update(
        {
            "hypervisor_type": "kubenova",
            "hypervisor_version": 1,
            "host_ip": status.get("hostIp"),
            "service": {
                "id": service_id(obj, version),
                "host": meta.get("name"),
                "disabled_reason": spec.get("disabledReason"),
            },
        }
    )
    if version.at_least("2.88"):
        out["uptime"] = None
    else:
        vcpus, vused = status.get("vcpus", 0) or 0, status.get("vcpusUsed", 0) or 0
        mem, mused = status.get("memoryMb", 0) or 0, status.get("memoryMbUsed", 0) or 0
        disk, dused = status.get("localGb", 0) or 0, status.get("localGbUsed", 0) or 0
        out.update(
            {
                "vcpus": vcpus,
                "vcpus_used": vused,
                "memory_mb": mem,
                "memory_mb_used": mused,
                "free_ram_mb": mem - mused,
                "local_gb": disk,
                "local_gb_used": dused,
                "free_disk_gb": disk - dused,
                "running_vms": status.get("runningVms", 0) or 0,
                "current_workload": 0,
                "disk_available_least": disk - dused,
                "cpu_info": "{}",
            }
        )
    return out


def service_id(obj: Obj, version: Version) -> Any:
    uid_ = str(_meta(obj).get("uid"))
    if version.at_least("2.53"):
        return str(uuid_from(uid_ + "/service"))
    return stable_int(uid_ + "/service")


def uuid_from(text: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, text))


def service_view(obj: Obj, version: Version) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    out: dict[str, Any] = {
        "id": service_id(obj, version),
        "binary": "nova-compute",
        "host": meta.get("name"),
        "zone": status.get("availabilityZone") or "nova",
        "status": status.get("status") or ("enabled" if spec.get("enabled", True) else "disabled"),
        "state": status.get("state") or "up",
        "updated_at": _usg(timestamp(meta.get("creationTimestamp"))),
        "disabled_reason": spec.get("disabledReason"),
    }
    if version.at_least("2.11"):
        out["forced_down"] = bool(spec.get("forcedDown"))
    return out


def aggregate_view(obj: Obj, version: Version) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    metadata = dict(spec.get("metadata") or {})
    zone = status.get("availabilityZone") or spec.get("availabilityZone")
    if zone:
        metadata.setdefault("availability_zone", zone)
    out: dict[str, Any] = {
        "id": stable_int(str(meta.get("uid"))),
        "name": meta.get("name"),
        "availability_zone": zone,
        "hosts": list(status.get("hosts") or spec.get("hosts") or []),
        "metadata": metadata,
        "created_at": _usg(timestamp(meta.get("creationTimestamp"))),
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }
    if version.at_least("2.41"):
        out["uuid"] = meta.get("uid")
    return out


def server_group_view(obj: Obj, version: Version) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    members = [m.get("uid") for m in status.get("members") or [] if m.get("uid")]
    out: dict[str, Any] = {
        "id": uid(obj),
        "name": (meta.get("annotations") or {}).get(NAME_ANNOTATION) or meta.get("name"),
        "members": members,
        "metadata": {},
    }
    policy = spec.get("policy", "affinity")
    if version.at_least("2.64"):
        out["policy"] = policy
        rules: dict[str, Any] = {}
        if spec.get("maxServerPerHost") and policy == "anti-affinity":
            rules["max_server_per_host"] = spec["maxServerPerHost"]
        out["rules"] = rules
        del out["metadata"]
    else:
        out["policies"] = [policy]
    if version.at_least("2.13"):
        out["project_id"] = meta.get("namespace")
        out["user_id"] = meta.get("annotations", {}).get(USER_ANNOTATION, "")
    return out


def instance_actions(obj: Obj, version: Version) -> list[dict[str, Any]]:
    """``os-instance-actions`` from the server's action history, newest first as Nova lists."""
    meta, status = _meta(obj), _status(obj)
    out = []
    for rec in reversed(status.get("actions") or []):
        a: dict[str, Any] = {
            "action": rec.get("action"),
            "instance_uuid": uid(obj),
            "message": rec.get("message") if rec.get("result") == "Error" else None,
            "project_id": meta.get("namespace"),
            "request_id": rec.get("requestId"),
            "start_time": _usg(rec.get("startTime")),
            "user_id": meta.get("annotations", {}).get(USER_ANNOTATION, ""),
        }
        if version.at_least("2.58"):
            a["updated_at"] = _usg(rec.get("finishTime") or rec.get("startTime"))
        a["_record"] = rec
        out.append(a)
    return out


def instance_action_events(rec: Mapping[str, Any], version: Version, *, host: str | None) -> list[dict[str, Any]]:
    ev: dict[str, Any] = {
        "event": f"compute_{rec.get('action')}",
        "start_time": _usg(rec.get("startTime")),
        "finish_time": _usg(rec.get("finishTime")),
        "result": rec.get("result"),
    }
    if version.at_least("2.62"):
        ev["host"] = host
        ev["hostId"] = ""
    if version.at_least("2.84"):
        ev["details"] = rec.get("message") if rec.get("result") == "Error" else None
    return [ev]
