"""ImagePropertiesFilter: an image's hw_architecture, img_hv_type and hw_vm_mode against what a
host supports, counted in "No valid host was found" like the other filters."""

from __future__ import annotations

import pytest

from kubenova.scheduling import filters
from kubenova.scheduling.claims import Ledger
from kubenova.scheduling.model import Hosts, HostState, RequestSpec, Usage
from kubenova.scheduling.scheduler import NoValidHost, choose_and_claim

X86 = HostState("x86", 4, 8192, 100, architecture="x86_64")
ARM = HostState("arm", 4, 8192, 100, architecture="aarch64")


def request(**props: str) -> RequestSpec:
    return RequestSpec("ns/s1", "ns", 1, 512, 1, image_properties=props)


@pytest.mark.parametrize(
    ("props", "host", "ok"),
    [
        ({}, X86, True),
        ({"hw_architecture": "x86_64"}, X86, True),
        ({"hw_architecture": "amd64"}, X86, True),  # Nova canonicalizes
        ({"hw_architecture": "aarch64"}, X86, False),
        ({"architecture": "arm64"}, ARM, True),  # the pre-Stein name
        ({"hw_architecture": "x86_64"}, HostState("unknown", 4, 8192, 100), False),
        ({"img_hv_type": "kvm"}, X86, True),
        ({"img_hv_type": "QEMU"}, X86, True),
        ({"img_hv_type": "xen"}, X86, False),
        ({"hw_vm_mode": "hvm"}, X86, True),
        ({"hw_vm_mode": "hv"}, X86, True),
        ({"hw_vm_mode": "xen"}, X86, False),
        ({"os_distro": "fedora"}, X86, True),  # not this filter's
    ],
)
def test_image_properties_against_the_host(props: dict[str, str], host: HostState, ok: bool) -> None:
    assert filters.image_properties(host, request(**props), Usage(0, 0, 0)) is ok


def test_the_filter_runs_only_when_the_image_asks() -> None:
    active = [f for _, f in filters.active_filters(request(os_distro="fedora"), False)]
    assert filters.image_properties not in active
    active = [f for _, f in filters.active_filters(request(hw_architecture="x86_64"), False)]
    assert filters.image_properties in active


def test_hosts_it_refuses_are_counted_in_no_valid_host() -> None:
    decision = choose_and_claim(request(hw_architecture="s390x"), Hosts([X86, ARM]), Ledger())
    assert isinstance(decision, NoValidHost)
    assert ("ImagePropertiesFilter", 2) in decision.removed
    assert "ImagePropertiesFilter removed 2 of 2" in decision.reasons()
    chosen = choose_and_claim(request(hw_architecture="aarch64"), Hosts([X86, ARM]), Ledger())
    assert not isinstance(chosen, NoValidHost)
    assert chosen.host == "arm"
