"""Pure translators of servers: a Server (as the API server stores it: a camelCase dict) to
Nova's JSON for a microversion (the server, its pending task, its instance actions and their
events), and a create request's body back to a Server's spec. No I/O here; the ``/servers``
routes (:mod:`kubenova.compute_api.servers`) call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubenova.compute_api import block_devices, body_types, server_writes
from kubenova.compute_api.errors import bad_request
from kubenova.compute_api.microversions import Version
from kubenova.compute_api.views import (
    FAULT_STATES,
    POWER_CODES,
    PROGRESS_STATES,
    USER_ANNOTATION,
    Obj,
    _meta,
    _spec,
    _status,
    display_name,
    host_id,
    image_id,
    image_reference,
    last_segment,
    link,
    object_name,
    timestamp,
    uid,
)
from kubenova.nova import actions as nova
from kubenova.nova.states import api_status
from kubenova.servers import intent


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
        # The flavor it runs with (after a revert, the old one while spec.flavor still names the new).
        fid = str((status.get("flavor") or {}).get("originalName") or spec.get("flavor"))
        flavor_out = {"id": fid, "links": link(base, "flavors", fid)[1:]}
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
        "accessIPv4": meta.get("annotations", {}).get(server_writes.ACCESS_IP["accessIPv4"], ""),
        "accessIPv6": meta.get("annotations", {}).get(server_writes.ACCESS_IP["accessIPv6"], ""),
        "links": link(base, "servers", ident),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": status.get("availabilityZone") or spec.get("availabilityZone") or "",
        "config_drive": "True" if spec.get("configDrive") else "",
        "key_name": spec.get("keyName"),
        "OS-SRV-USG:launched_at": _usg(status.get("launchedAt")),
        "OS-SRV-USG:terminated_at": _usg(status.get("terminatedAt")),
        "security_groups": [{"name": g} for g in spec.get("securityGroups") or ["default"]],
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


def server_spec(
    body: Mapping[str, Any], *, flavor: str, hints: Mapping[str, Any] | None, flavor_disk: int = 0
) -> dict[str, Any]:
    """The Server's spec for ``POST /servers``'s ``server`` object (validated by the caller)."""
    spec: dict[str, Any] = {"flavor": flavor, "displayName": body["name"]}
    image = body.get("imageRef")
    devices = block_devices.spec_of(body.get("block_device_mapping_v2") or [], image, flavor_disk=flavor_disk)
    image = image or devices.get("imageId")
    if "bootVolume" in devices:  # boot from volume: the claim is the root disk, no image
        spec["bootVolume"] = devices["bootVolume"]
    elif image:
        spec["image"] = image_reference(last_segment(str(image)) if "/images/" in str(image) else str(image))
    if devices.get("volumes"):
        spec["volumes"] = devices["volumes"]
    if body.get("key_name"):  # the Keypair's Kubernetes name (views.object_name)
        spec["keyName"] = object_name(str(body["key_name"]))
    for key, ours in (
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
    body_types.check(server, body_types.SERVER_CREATE)
    if "tags" in server:
        body_types.tags(server["tags"])
    for key in ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"):
        if key in body:
            body_types.scheduler_hints(key, body[key])
    if "min_count" in server and "max_count" in server and int(server["min_count"]) > int(server["max_count"]):
        raise bad_request("min_count must be <= max_count")
    bdms = server.get("block_device_mapping_v2") or []
    if not isinstance(bdms, list):
        raise bad_request("Invalid input for field/attribute block_device_mapping_v2.")
    block_devices.spec_of(bdms, server.get("imageRef"), flavor_disk=0)  # Nova's 400s, before any write
    md = server.get("metadata")
    if md is not None and (not isinstance(md, Mapping) or any(len(str(v)) > 255 for v in md.values())):
        raise bad_request("Invalid input for field/attribute metadata.")
    result: Mapping[str, Any] = server
    return result


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
