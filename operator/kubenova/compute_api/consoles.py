"""Nova's consoles in the Compute API: ``os-getConsoleOutput`` (a server action) and
``POST /servers/{id}/remote-consoles`` (2.6+). Called by :mod:`.server_actions` (the action) and
routed by :mod:`.app`; what each backend offers is :mod:`kubenova.backends.consoles`.

* Console output, read as the caller (``pods/log`` in RBAC): a container server's Pod log; a
  VM's serial console log, the ``guest-console-log`` container of its virt-launcher Pod. Nova's
  ``length`` is the number of last lines (-1 or left out: all), and at most the last 100 KiB.
* Remote consoles: kubenova runs no console proxy, so it has no URL a noVNC or serial client
  could open. A VM's VNC and serial console are answered with Nova's 501 for a driver without
  the console, naming KubeVirt's subresource and ``virtctl``; a container has none (Nova's 400
  "Unavailable console type", naming ``kubectl exec``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.backends import consoles
from kubenova.compute_api import body_types, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.servers import P, find_server

routes = web.RouteTableDef()

# Nova's remote-console protocols and their types (schemas/remote_consoles.py, 2.8 and later).
PROTOCOLS = {"vnc": ("novnc", "xvpvnc"), "spice": ("spice-html5", "spice-direct"), "serial": ("serial",),
             "rdp": ("rdp-html5",), "mks": ("webmks",)}  # fmt: skip


async def console_output(request: web.Request, obj: Mapping[str, Any], arg: Any) -> web.Response:
    """``os-getConsoleOutput``: ``{"output": ...}``."""
    ctx.set_policy(request, "os_compute_api:os-console-output")
    length = arg.get("length") if isinstance(arg, Mapping) else None
    try:
        tail = consoles.tail_lines(length)
    except consoles.BadLength:
        raise bad_request(f"Invalid input for field/attribute length. Value: {length}.") from None
    status = obj.get("status") or {}
    workload = status.get("workload") or {}
    namespace, caller = obj["metadata"]["namespace"], ctx.caller(request)
    output: str | None = None
    if workload.get("kind") == "Pod":
        output = await caller.pod_log(str(workload.get("name")), namespace, tail_lines=tail)
    elif workload.get("kind") == "VirtualMachine":
        labels = {**consoles.LAUNCHER_LABELS, consoles.VM_LABEL: str(workload.get("name"))}
        for pod in await caller.pod_names(namespace, labels):
            output = await caller.pod_log(pod, namespace, tail_lines=tail, container=consoles.GUEST_CONSOLE_LOG)
            if output is not None:
                break
    if output is None:
        raise NovaError(409, f"Instance {views.uid(obj)} is not ready: its console is not available yet.")
    return ctx.reply({"output": consoles.capped(output)})


@routes.post(P + "/servers/{id}/remote-consoles")
async def remote_console(request: web.Request) -> web.Response:
    if not ctx.version(request).at_least("2.6"):
        raise NovaError(404, "The resource could not be found.")
    ctx.set_policy(request, "os_compute_api:os-remote-consoles")
    body = body_types.obj("remote_console", await ctx.keyed_body(request, "remote_console"))
    protocol, kind = body.get("protocol"), body.get("type")
    # Strings first: an object or a list is not a key of PROTOCOLS (a TypeError, so a 500, before).
    if not isinstance(protocol, str) or protocol not in PROTOCOLS:
        raise body_types.invalid("protocol", protocol, f"{protocol!r} is not one of {sorted(PROTOCOLS)}")
    if not isinstance(kind, str) or kind not in PROTOCOLS[protocol]:
        raise bad_request(f"Invalid input for field/attribute remote_console. Value: {dict(body)}.")
    obj = await find_server(request, request.match_info["id"])
    meta, status = obj["metadata"], obj.get("status") or {}
    if status.get("backend") == "kubevirt" and protocol in ("vnc", "serial"):
        path = consoles.subresource_path(meta["namespace"], meta["name"], "console" if protocol == "serial" else "vnc")
        command = f"virtctl {'console' if protocol == 'serial' else 'vnc'} {meta['name']} -n {meta['namespace']}"
        raise NovaError(
            501,
            f"Unable to get {protocol} console, functionality not implemented: kubenova runs no console proxy. "
            f"Connect with `{command}` (KubeVirt's websocket subresource {path}).",
        )
    if status.get("backend") == "container":
        raise NovaError(
            400,
            f"Unavailable console type {kind}. A container server has no console: use "
            f"`kubectl exec -it -n {meta['namespace']} {meta['name']} -- sh`.",
        )
    raise NovaError(400, f"Unavailable console type {kind}.")
