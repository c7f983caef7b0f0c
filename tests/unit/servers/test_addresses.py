"""A kubevirt server's addresses from its VirtualMachineInstance (kubenova.servers.addresses)."""

from __future__ import annotations

from kubenova.servers import addresses

IFACE = {"name": "default", "ipAddress": "198.18.0.5", "ipAddresses": ["198.18.0.5", "2001:db8::5"], "mac": "02:aa"}


def test_a_running_instances_interfaces_as_novas_addresses() -> None:
    vmi = {
        "status": {
            "phase": "Running",
            "nodeName": "h1",
            "interfaces": [IFACE, {"name": "data", "ipAddress": "10.1.0.2"}],
        }
    }
    assert addresses.of_instance(vmi) == [
        {"network": "pod", "addr": "198.18.0.5", "version": 4, "type": "fixed", "macAddr": "02:aa"},
        {"network": "pod", "addr": "2001:db8::5", "version": 6, "type": "fixed", "macAddr": "02:aa"},
        {"network": "data", "addr": "10.1.0.2", "version": 4, "type": "fixed"},
    ]
    assert addresses.node_of(vmi) == "h1"


def test_an_instance_without_addresses_or_not_running_keeps_what_the_server_has() -> None:
    assert addresses.of_instance(None) is None
    assert addresses.of_instance({"status": {"phase": "Scheduling", "interfaces": [IFACE]}}) is None
    assert addresses.of_instance({"status": {"phase": "Running", "interfaces": [{"name": "default"}]}}) is None
