"""Routing a Service of the dev cluster to a process on this machine, over loopback only.

The dev cluster runs no kube-proxy, so a Service's cluster IP leads nowhere. kube-apiserver
reaches an aggregated API (an APIService) and an admission webhook (``clientConfig.service``)
through one service resolver (``buildServiceResolver`` in ``cmd/kube-apiserver/app/server.go``).
Without ``--enable-aggregator-routing`` (the default, as here) it is ``ResolveCluster`` of
``k8s.io/apiserver/pkg/util/proxy``, which for a Service of ``type: ExternalName`` returns
``https://<externalName>:<port>``, ``port`` being the APIService's or the webhook's own port:
the Service's ports and target ports play no part. The aggregator's availability check looks for
endpoints only for a ClusterIP Service and then calls that same address. Both clients still
check the server's certificate against ``<service>.<namespace>.svc``. An ``externalName`` is
validated as a DNS-1123 subdomain only, so an IPv4 literal such as ``127.0.0.1`` is accepted
(an EndpointSlice refuses 127.0.0.0/8; and with ``--enable-aggregator-routing=true``,
``ResolveEndpoint`` refuses an ExternalName Service: "unsupported service type").

So a Service leads to a local process by becoming of type ExternalName and naming a loopback
address. Every address used here is checked to be loopback (:func:`require_loopback`): no test,
benchmark or ``make run`` traffic leaves the machine's loopback interface.

* The fake virt-api (:mod:`hack.devcluster.virtapi`) listens on 127.0.0.1 at a free port, and its
  APIService names that port.
* A Service whose port is fixed elsewhere (the chart's webhook Service, port 443, announced by the
  operator) gets a loopback address of its own (:func:`free_address`, a random ``127.x.y.z`` on
  Linux's 127.0.0.0/8, so clusters running side by side do not clash), where a forwarder
  (``python -m hack.devcluster.routing LISTEN TARGET``, a child of the cluster) passes
  connections on to the process's port on 127.0.0.1. Port 443 needs root or
  ``net.ipv4.ip_unprivileged_port_start`` at most 443.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import random
import socket
import sys
from collections.abc import Mapping
from typing import Any

LOCALHOST = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> str:
    if not is_loopback(host):
        raise ValueError(f"{host!r} is not a loopback address: the dev cluster routes over loopback only")
    return host


def free_address(port: int, *, attempts: int = 50) -> str:
    """A random loopback address (``127.x.y.z``, outside 127.0.0.0/16) where ``port`` is free now."""
    for _ in range(attempts):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        with socket.socket() as s:
            try:
                s.bind((address, port))
            except PermissionError as exc:
                raise RuntimeError(
                    f"binding port {port} needs root (or net.ipv4.ip_unprivileged_port_start <= {port})"
                ) from exc
            except OSError:
                continue
        return address
    raise RuntimeError(f"no loopback address with port {port} free after {attempts} tries")


def listening(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind((LOCALHOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def external_name_patch(address: str) -> dict[str, Any]:
    """A merge patch that turns a Service into one of type ExternalName naming ``address``.

    The API server drops the cluster IPs and IP families of a Service that stops needing them
    (``dropTypeDependentFields``); a selector stays, harmless (nothing reads it here)."""
    return {"spec": {"type": "ExternalName", "externalName": require_loopback(address)}}


def external_name_service(
    namespace: str,
    name: str,
    address: str,
    *,
    port: int,
    port_name: str,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Service of type ExternalName that kube-apiserver resolves to ``address`` (loopback).

    Its port is listed for readers (kubectl, a cluster's DNS): kube-apiserver dials the port of
    the APIService or webhook that names the Service."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {
            "type": "ExternalName",
            "externalName": require_loopback(address),
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        },
    }


# --- the forwarder ------------------------------------------------------------------------


def _split(host_port: str) -> tuple[str, int]:
    host, _, port = host_port.rpartition(":")
    return require_loopback(host), int(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # a half-close is passed on, as TLS close_notify and HTTP expect
    except OSError:
        writer.close()


async def forward(listen: tuple[str, int], target: tuple[str, int]) -> None:
    """Pass every TCP connection to ``listen`` on to ``target``, both loopback, until cancelled."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()
            with contextlib.suppress(OSError):
                await w.wait_closed()

    server = await asyncio.start_server(handle, *listen)
    print(f"forwarding {listen[0]}:{listen[1]} to {target[0]}:{target[1]}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.devcluster.routing", description=forward.__doc__)
    parser.add_argument("listen", help="ADDRESS:PORT, a loopback address")
    parser.add_argument("target", help="ADDRESS:PORT, a loopback address")
    args = parser.parse_args(argv)
    asyncio.run(forward(_split(args.listen), _split(args.target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
