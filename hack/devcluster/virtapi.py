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
would, and the simulated virt-controller (:mod:`hack.devcluster.virtcontroller`) keeps its
VirtualMachineInstance (whose phase stays Running while paused, as KubeVirt's does). So this
stand-in acts on the VirtualMachine of the instance's name, and shows the result in the VM's
status as KubeVirt does (printableStatus ``Paused`` and a ``Paused`` condition, reason
``PausedByUser``), which the kwok Stages leave alone.
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
from hack.devcluster.vmactions import Refused, status_patch, volume_patch
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
CONSOLES = ("console", "vnc")
"""The websocket subresources of a VMI: answered as virt-api answers a GET that is no websocket
upgrade (a simulated VM has no serial port or display to stream)."""
NOT_WEBSOCKET = (
    "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header"
)
_PORT_NAME = "https"
_ACTION_PATH = re.compile(
    rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/(?P<ns>[^/]+)/virtualmachineinstances/(?P<name>[^/]+)/(?P<action>[^/]+)$"
)
_VM_PATH = re.compile(
    rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/(?P<ns>[^/]+)/virtualmachines/(?P<name>[^/]+)/(?P<action>[^/]+)$"
)


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


# --- the server ----------------------------------------------------------------------------


class Kube:
    """Reads and patches VirtualMachines for the actions, with a lightkube sync client."""

    def __init__(self, kubeconfig: Path) -> None:
        self.client = lightkube.Client(KubeConfig.from_file(kubeconfig))

    def exists(self, namespace: str, name: str) -> None:
        """Refuse as virt-api does when there is no instance (the VM stands in for it)."""
        self._read_vm(namespace, name, missing="virtualmachineinstance")

    def _read_vm(self, namespace: str, name: str, *, missing: str) -> dict[str, Any]:
        """The VM ``namespace/name``; if there is none, virt-api's 404 for the kind it names."""
        try:
            found = self.client.get(VirtualMachine, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                raise Refused(
                    404,
                    "NotFound",
                    f'{missing}.kubevirt.io "{name}" not found',
                    {"name": name, "group": "kubevirt.io", "kind": missing},
                ) from exc
            raise
        vm: dict[str, Any] = found.to_dict()  # type: ignore[no-untyped-call]
        return vm

    def act(self, namespace: str, name: str, action: str) -> None:
        for _ in range(5):  # kwok may write the status between our read and our write
            # virt-api's words: it looks the instance up, and here the VM stands in for it.
            vm = self._read_vm(namespace, name, missing="virtualmachineinstance")
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
            vm = self._read_vm(namespace, name, missing="virtualmachine")
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
        resources = (
            [
                {
                    "name": f"virtualmachineinstances/{a}",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "",
                    "verbs": ["update"],
                }
                for a in ACTIONS
            ]
            + [
                {
                    "name": f"virtualmachines/{a}",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "",
                    "verbs": ["update"],
                }
                for a in VM_ACTIONS
            ]
            + [
                {
                    "name": f"virtualmachineinstances/{c}",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "",
                    "verbs": ["get"],
                }
                for c in CONSOLES
            ]
        )
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
            console = _ACTION_PATH.match(path)
            if console and console["action"] in CONSOLES:
                try:
                    kube.exists(console["ns"], console["name"])
                except Refused as refused:
                    self._refuse(refused)
                    return
                self._refuse(Refused(400, "BadRequest", NOT_WEBSOCKET))
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
