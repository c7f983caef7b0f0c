"""The dev cluster routes Services to local processes over loopback only (hack/devcluster/routing.py):
ExternalName Services naming 127.0.0.0/8, a forwarder between loopback addresses, and no code that
looks for this machine's other addresses."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from pathlib import Path

import pytest

from hack.devcluster import routing

HACK = Path(__file__).resolve().parents[2] / "hack"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.31.4.9", True),
        ("::1", True),
        ("localhost", True),
        ("10.1.2.3", False),
        ("192.0.2.2", False),
        ("0.0.0.0", False),
        ("::", False),
        ("kubernetes.default.svc", False),
    ],
)
def test_only_loopback_counts_as_loopback(host: str, loopback: bool) -> None:
    assert routing.is_loopback(host) is loopback


def test_an_external_name_patch_names_loopback_only() -> None:
    assert routing.external_name_patch("127.9.8.7") == {"spec": {"type": "ExternalName", "externalName": "127.9.8.7"}}
    with pytest.raises(ValueError, match="loopback"):
        routing.external_name_patch("10.0.0.1")


def test_a_free_address_is_a_fresh_loopback_one() -> None:
    address = routing.free_address(0)
    assert routing.is_loopback(address)
    assert not address.startswith("127.0.")


def test_no_devcluster_code_looks_for_this_machines_other_addresses() -> None:
    tricks = re.compile(r"gethostbyname|getaddrinfo|gethostname|SOCK_DGRAM|\"addr\", \"show\"|host_ipv4")
    found = [f"{p}: {m.group()}" for p in HACK.rglob("*.py") for m in tricks.finditer(p.read_text())]
    assert not found


def test_the_forwarder_refuses_an_address_off_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        routing.main(["10.0.0.1:443", "127.0.0.1:8443"])


def test_the_forwarder_passes_bytes_both_ways_and_a_half_close() -> None:
    async def scenario() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"got " + await reader.read())  # reads to EOF: the half-close came through
            await writer.drain()
            writer.close()

        target = await asyncio.start_server(echo, "127.0.0.1", 0)
        target_port = target.sockets[0].getsockname()[1]
        listen = (routing.free_address(0), _free_port())
        forwarder = asyncio.create_task(routing.forward(listen, ("127.0.0.1", target_port)))
        for _ in range(100):
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection(*listen)
                break
            await asyncio.sleep(0.02)
        writer.write(b"hello")
        writer.write_eof()
        answer = await reader.read()
        writer.close()
        forwarder.cancel()
        target.close()
        return answer

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == b"got hello"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
