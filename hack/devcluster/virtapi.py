"""A fake KubeVirt virt-api: the ``subresources.kubevirt.io/v1`` aggregated API, for the dev cluster.

It serves pause, unpause and softreboot of a VirtualMachineInstance and, on a VirtualMachine,
``addvolume`` and ``removevolume``: as virt-api does (``pkg/virt-api/rest/volumes.go``), it checks
the ``AddVolumeOptions``/``RemoveVolumeOptions`` against the VM's volumes (409 ``Unable to add
volume [x] because volume with that name already exists``, ``... because it does not exist``,
``... because it is not hotpluggable``), then writes the volume (marked ``hotpluggable``) and its
disk into, or out of, the VM's ``spec.template.spec`` with a JSON patch guarded by ``test``
operations, and answers 202. Real virt-controller then hot-plugs it into the running instance
(an attachment Pod, the VMI's ``volumeStatus``); with no instance here, nothing more happens.

Real KubeVirt serves pause, unpause and soft reboot of a VirtualMachineInstance from virt-api, an
aggregated API server that kube-apiserver proxies to (an APIService and a Service).
The dev cluster runs no KubeVirt: kwok Stages move a VirtualMachine's status as virt-controller
would, and make no VirtualMachineInstance. So this stand-in acts on the VirtualMachine of the
instance's name, and shows the result in the VM's status as KubeVirt does (printableStatus
``Paused`` and a ``Paused`` condition, reason ``PausedByUser``), which the kwok Stages leave alone.
It answers as virt-api does: 404 for an absent VM, 409 ``VMI is not running``, ``VMI is already
paused``, ``VMI is not paused``.

It is registered through the real aggregation layer, so the operator's calls take the path they
take in a real cluster, RBAC check included (kube-apiserver authorizes ``update`` on
``virtualmachineinstances/pause`` before proxying). :func:`manifests` gives the registration;
:mod:`hack.devcluster.cluster` starts this module as a child process
(``python -m hack.devcluster.virtapi``) and applies them.

It accepts only clients with a certificate from the front-proxy CA (kube-apiserver's aggregation
layer; the CA signs nothing else), as a real aggregated server does, though it listens on loopback
only. Dev only: past that it trusts the ``X-Remote-User`` header without checking its
``--requestheader-allowed-names`` or asking kube-apiserver whether that user may do more (virt-api
does its own SubjectAccessReviews for some actions), and it writes the VM's status with the
cluster's admin credentials.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import re
import ssl
import sys
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightkube
from lightkube import ApiError, KubeConfig
from lightkube.types import PatchType

from hack.devcluster import processes, routing
from kubenova.kube.resources import VirtualMachine

if TYPE_CHECKING:
    from hack.devcluster.cluster import Cluster

GROUP = "subresources.kubevirt.io"
VERSION = "v1"
NAMESPACE = "kubevirt"
SERVICE = "virt-api"
APISERVICE = f"{VERSION}.{GROUP}"
ACTIONS = ("pause", "unpause", "softreboot")
VM_ACTIONS = ("addvolume", "removevolume")
_PORT_NAME = "https"
_ACTION_PATH = re.compile(
    rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/(?P<ns>[^/]+)/virtualmachineinstances/(?P<name>[^/]+)/(?P<action>[^/]+)$"
)
_VM_PATH = re.compile(
    rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/(?P<ns>[^/]+)/virtualmachines/(?P<name>[^/]+)/(?P<action>[^/]+)$"
)
_UNPAUSED_GATE = "kubevirt.io/virtual-machine-unpaused"


# --- registration -------------------------------------------------------------------------


def manifests(address: str, port: int, ca_bundle: bytes) -> list[dict[str, Any]]:
    """The objects that make kube-apiserver proxy ``subresources.kubevirt.io/v1`` to ``address:port``.

    The Service is of type ExternalName and names the fake's loopback address; the APIService
    names the port, which is the one kube-apiserver dials (see :mod:`hack.devcluster.routing`).
    It checks the fake's certificate against ``ca_bundle`` for the name ``virt-api.kubevirt.svc``."""
    labels = {"app.kubernetes.io/name": "virt-api", "app.kubernetes.io/part-of": "kubenova-devcluster"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}},
        routing.external_name_service(NAMESPACE, SERVICE, address, port=port, port_name=_PORT_NAME, labels=labels),
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": APISERVICE, "labels": labels},
            "spec": {
                "group": GROUP,
                "version": VERSION,
                "service": {"namespace": NAMESPACE, "name": SERVICE, "port": port},
                "caBundle": base64.b64encode(ca_bundle).decode(),
                "groupPriorityMinimum": 1000,
                "versionPriority": 15,
            },
        },
    ]


def start(cluster: Cluster, address: str, port: int) -> None:
    """Start the fake virt-api as a child of ``cluster``, listening on ``address:port``, and register it."""
    bundle = cluster.bundle
    cluster.spawn("virt-api", [
        sys.executable, "-m", "hack.devcluster.virtapi",
        f"--address={address}",
        f"--port={port}",
        f"--tls-cert={bundle.virt_api.cert}",
        f"--tls-key={bundle.virt_api.key}",
        f"--kubeconfig={cluster.kubeconfig}",
        f"--front-proxy-ca={bundle.front_proxy_ca.cert}",
    ])  # fmt: skip
    # It takes only the front proxy's clients, so its health is checked with that certificate.
    as_front_proxy = ssl.create_default_context(cafile=str(bundle.ca.cert))
    as_front_proxy.load_cert_chain(str(bundle.front_proxy_client.cert), str(bundle.front_proxy_client.key))
    cluster.wait_for("virt-api", lambda: processes.http_ok(f"https://{address}:{port}/healthz", as_front_proxy))
    cluster.apply(manifests(address, port, bundle.ca.cert.read_bytes()))


def is_available(cluster: Cluster) -> bool:
    """Whether kube-apiserver's availability check of the APIService passed."""
    conditions = (cluster.get_json("apiservice", APISERVICE).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)


# --- what each action does to a VirtualMachine's status -------------------------------------


class Refused(Exception):
    """An answer other than 200, as virt-api gives it: a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
            **({"details": details} if details else {}),
        }


def _conflict(name: str, why: str) -> Refused:
    return Refused(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "{name}": {why}',
        {"name": name, "group": "kubevirt.io", "kind": "virtualmachineinstance"},
    )


def status_patch(vm: Mapping[str, Any], action: str, *, now: str) -> dict[str, Any] | None:
    """The VM status after ``action`` (None if it changes nothing), or :class:`Refused`."""
    name = vm["metadata"]["name"]
    status = vm.get("status") or {}
    printable = status.get("printableStatus")
    paused = printable == "Paused" or any(
        c.get("type") == "Paused" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    # Ready and Paused are rewritten below; the rest stay. (A merge patch replaces a whole list.)
    kept = [c for c in status.get("conditions") or [] if c.get("type") not in ("Ready", "Paused")]
    if printable not in ("Running", "Paused"):
        raise _conflict(name, "VMI is not running")
    if action == "pause":
        if paused:
            raise _conflict(name, "VMI is already paused")
        # A paused guest fails its launcher Pod's readiness gate, so KubeVirt shows it not Ready,
        # in the kubelet's words.
        not_ready = {
            "type": "Ready",
            "status": "False",
            "reason": "ReadinessGatesNotReady",
            "message": f'the status of pod readiness gate "{_UNPAUSED_GATE}" is not "True", but False',
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        pause = {
            "type": "Paused",
            "status": "True",
            "reason": "PausedByUser",
            "message": "VMI was paused by user",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        return {"printableStatus": "Paused", "ready": False, "conditions": [*kept, not_ready, pause]}
    if action == "unpause":
        if not paused:
            raise _conflict(name, "VMI is not paused")
        ready = {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        return {"printableStatus": "Running", "ready": True, "conditions": [*kept, ready]}
    if action == "softreboot":
        if paused:
            raise _conflict(name, "VMI is paused")
        return None  # the guest reboots inside the same instance: nothing a status shows
    raise Refused(404, "NotFound", f"the server could not find the requested resource ({action})")


# --- what addvolume and removevolume do to a VirtualMachine's spec ---------------------------


def _bad_request(message: str) -> Refused:
    return Refused(400, "BadRequest", message)


def _vm_conflict(name: str, why: str) -> Refused:
    return Refused(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on virtualmachine.kubevirt.io "{name}": {why}',
        {"name": name, "group": "kubevirt.io", "kind": "virtualmachine"},
    )


def _source_claim(volume: Mapping[str, Any]) -> str | None:
    source = volume.get("persistentVolumeClaim") or volume.get("dataVolume") or {}
    claim = source.get("claimName") or source.get("name")
    return str(claim) if claim else None


def volume_patch(vm: Mapping[str, Any], action: str, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch ``action`` makes of the VM's spec, or :class:`Refused` as virt-api answers."""
    name = vm["metadata"]["name"]
    spec = vm.get("spec", {}).get("template", {}).get("spec", {})
    volumes: list[dict[str, Any]] = list(spec.get("volumes") or [])
    disks: list[dict[str, Any]] = list(spec.get("domain", {}).get("devices", {}).get("disks") or [])
    kind = "AddVolumeOptions" if action == "addvolume" else "RemoveVolumeOptions"
    vol_name = options.get("name")
    if not vol_name:
        raise _bad_request(f"{kind} requires name to be set")
    if action == "addvolume":
        if not options.get("disk"):
            raise _bad_request("AddVolumeOptions requires disk to not be nil")
        source = options.get("volumeSource")
        if not source:
            raise _bad_request("AddVolumeOptions requires VolumeSource to not be nil")
        claim = _source_claim(source)
        for v in volumes:
            if v.get("name") == vol_name:
                raise _vm_conflict(
                    name, f"Unable to add volume [{vol_name}] because volume with that name already exists"
                )
            if claim and _source_claim(v) == claim:
                raise _vm_conflict(name, f"Unable to add volume source [{claim}] because it already exists")
        hotplug = {k: {**v, "hotpluggable": True} for k, v in source.items()}
        new_volumes = [*volumes, {"name": vol_name, **hotplug}]
        new_disks = [*disks, {**options["disk"], "name": vol_name}]
    else:
        found = next((v for v in volumes if vol_name in (v.get("name"), _source_claim(v))), None)
        if found is None:
            raise _vm_conflict(name, f"Unable to remove volume [{vol_name}] because it does not exist")
        source = found.get("persistentVolumeClaim") or found.get("dataVolume") or {}
        if not source.get("hotpluggable"):
            raise _vm_conflict(name, f"Unable to remove volume [{found['name']}] because it is not hotpluggable")
        new_volumes = [v for v in volumes if v is not found]
        new_disks = [d for d in disks if d.get("name") != found["name"]]
    base = "/spec/template/spec"
    return [
        {"op": "test", "path": f"{base}/volumes", "value": volumes},
        {"op": "test", "path": f"{base}/domain/devices/disks", "value": disks},
        {"op": "replace", "path": f"{base}/volumes", "value": new_volumes},
        {"op": "replace", "path": f"{base}/domain/devices/disks", "value": new_disks},
    ]


# --- the server ----------------------------------------------------------------------------


class Kube:
    """Reads and patches VirtualMachines for the actions, with a lightkube sync client."""

    def __init__(self, kubeconfig: Path) -> None:
        self.client = lightkube.Client(KubeConfig.from_file(kubeconfig))

    def act(self, namespace: str, name: str, action: str) -> None:
        for _ in range(5):  # kwok may write the status between our read and our write
            try:
                found = self.client.get(VirtualMachine, name, namespace=namespace)
                vm: dict[str, Any] = found.to_dict()  # type: ignore[no-untyped-call]
            except ApiError as exc:
                if exc.status.code == 404:
                    # virt-api's words: it looks the instance up, and here the VM stands in for it.
                    raise Refused(
                        404,
                        "NotFound",
                        f'virtualmachineinstance.kubevirt.io "{name}" not found',
                        {"name": name, "group": "kubevirt.io", "kind": "virtualmachineinstance"},
                    ) from exc
                raise
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            status = status_patch(vm, action, now=now)
            if status is None:
                return
            # The resourceVersion makes the merge patch conditional: a 409 means read again.
            patch = {"metadata": {"resourceVersion": vm["metadata"]["resourceVersion"]}, "status": status}
            try:
                self.client.patch(VirtualMachine.Status, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
                return
            except ApiError as exc:
                if exc.status.code != 409:
                    raise
        raise Refused(409, "Conflict", f"the VirtualMachine {namespace}/{name} kept changing; try again")

    def volume(self, namespace: str, name: str, action: str, options: Mapping[str, Any]) -> None:
        """addvolume or removevolume on the VM ``namespace/name``; a race with another writer
        fails the patch's ``test`` and is tried again."""
        for _ in range(5):
            try:
                found = self.client.get(VirtualMachine, name, namespace=namespace)
                vm: dict[str, Any] = found.to_dict()  # type: ignore[no-untyped-call]
            except ApiError as exc:
                if exc.status.code == 404:
                    raise Refused(
                        404,
                        "NotFound",
                        f'virtualmachine.kubevirt.io "{name}" not found',
                        {"name": name, "group": "kubevirt.io", "kind": "virtualmachine"},
                    ) from exc
                raise
            ops = volume_patch(vm, action, options)
            try:
                self.client.patch(VirtualMachine, name, ops, namespace=namespace, patch_type=PatchType.JSON)
                return
            except ApiError as exc:
                if exc.status.code not in (409, 422):
                    raise
        raise Refused(409, "Conflict", f"the VirtualMachine {namespace}/{name} kept changing; try again")


def _document(path: str) -> dict[str, Any] | None:
    group_version = {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}
    group = {"name": GROUP, "versions": [group_version], "preferredVersion": group_version}
    if path == "/apis":
        # A plain APIGroupList: kube-apiserver then falls back to reading /apis/GROUP/VERSION.
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}
    if path == f"/apis/{GROUP}":
        return {"kind": "APIGroup", "apiVersion": "v1", **group}
    if path == f"/apis/{GROUP}/{VERSION}":
        resources = [
            {
                "name": f"virtualmachineinstances/{a}",
                "singularName": "",
                "namespaced": True,
                "kind": "",
                "verbs": ["update"],
            }
            for a in ACTIONS
        ] + [
            {"name": f"virtualmachines/{a}", "singularName": "", "namespaced": True, "kind": "", "verbs": ["update"]}
            for a in VM_ACTIONS
        ]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{GROUP}/{VERSION}",
            "resources": resources,
        }
    # kube-apiserver merges every aggregated server's OpenAPI documents into its own and retries
    # one it cannot download, forever; these actions take no schema, so empty documents do.
    info = {"title": "fake KubeVirt virt-api", "version": VERSION}
    if path == "/openapi/v2":
        return {"swagger": "2.0", "info": info, "paths": {}}
    if path == "/openapi/v3":
        gv_path = f"apis/{GROUP}/{VERSION}"
        return {"paths": {gv_path: {"serverRelativeURL": f"/openapi/v3/{gv_path}"}}}
    if path == f"/openapi/v3/apis/{GROUP}/{VERSION}":
        return {"openapi": "3.0.0", "info": info, "paths": {}}
    return None


def make_handler(kube: Kube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "kubenova-fake-virt-api"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/healthz", "/readyz", "/livez"):
                self._send(200, b"ok", "text/plain")
                return
            body = _document(path.rstrip("/") or "/")
            if body is None:
                self._refuse(Refused(404, "NotFound", "the server could not find the requested resource"))
                return
            self._json(200, body)

        def do_PUT(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # PauseOptions: nothing to use
            path = self.path.split("?", 1)[0]
            vm_match = _VM_PATH.match(path)
            match = _ACTION_PATH.match(path)
            try:
                if vm_match and vm_match["action"] in VM_ACTIONS:
                    try:
                        options = json.loads(raw or b"{}")
                    except ValueError:
                        options = None
                    if not isinstance(options, dict):
                        raise Refused(
                            400, "BadRequest", "Request with no body, a new name is expected as the request body"
                        )
                    kube.volume(vm_match["ns"], vm_match["name"], vm_match["action"], options)
                    self._send(202, b"", None)  # virt-api answers a volume request with 202 Accepted
                    return
                if not match or match["action"] not in ACTIONS:
                    self._refuse(Refused(404, "NotFound", "the server could not find the requested resource"))
                    return
                kube.act(match["ns"], match["name"], match["action"])
            except Refused as refused:
                self._refuse(refused)
                return
            except Exception as exc:  # as virt-api answers any other failure
                self._refuse(Refused(500, "InternalError", f"Internal error occurred: {exc}"))
                return
            self._send(200, b"", None)  # virt-api answers an accepted action with an empty 200

        def _refuse(self, refused: Refused) -> None:
            self._json(refused.code, refused.status)

        def _json(self, code: int, body: Mapping[str, Any]) -> None:
            self._send(code, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str | None) -> None:
            self.send_response(code)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Who kube-apiserver says is asking (its front-proxy certificate vouches for the header).
            user = self.headers.get("X-Remote-User", "-") if hasattr(self, "headers") else "-"
            print(f"{self.log_date_time_string()} {user} {format % args}", file=sys.stderr, flush=True)

    return Handler


def serve(address: str, port: int, *, cert: Path, key: Path, client_ca: Path, kube: Kube) -> None:
    server = ThreadingHTTPServer((routing.require_loopback(address), port), make_handler(kube))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(client_ca))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"fake virt-api serving {GROUP}/{VERSION} on https://{address}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.devcluster.virtapi", description=__doc__)
    parser.add_argument("--address", default=routing.LOCALHOST, help="where to listen: a loopback address")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert", type=Path, required=True)
    parser.add_argument("--tls-key", type=Path, required=True)
    parser.add_argument("--kubeconfig", type=Path, required=True, help="an identity that may patch VM status")
    parser.add_argument("--front-proxy-ca", type=Path, required=True, help="the CA of the clients to accept")
    args = parser.parse_args(argv)
    kube = Kube(args.kubeconfig)
    serve(args.address, args.port, cert=args.tls_cert, key=args.tls_key, client_ca=args.front_proxy_ca, kube=kube)
    return 0


if __name__ == "__main__":
    sys.exit(main())
