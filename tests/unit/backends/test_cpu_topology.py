"""A kubevirt guest's CPU topology as Nova chooses it from the flavor's hw:cpu_* and the image's
hw_cpu_* (preferences and limits, Nova's messages), rendered into ``domain.cpu`` valid against
KubeVirt's schema; hw_qemu_guest_agent changes nothing (KubeVirt always gives the channel)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubenova.backends import kubevirt, topology
from kubenova.servers import build
from tests.unit.backends.test_kubevirt_rendering import assert_valid
from tests.unit.backends.test_root_disk_rendering import SERVER


@pytest.mark.parametrize(
    ("vcpus", "specs", "props", "expected"),
    [
        (4, {}, {}, (1, 4, 1)),  # kubenova's default
        (4, {}, {"hw_cpu_sockets": "2"}, (2, 2, 1)),
        (8, {}, {"hw_cpu_sockets": "2", "hw_cpu_threads": "2"}, (2, 2, 2)),
        (4, {"hw:cpu_threads": "2"}, {}, (2, 1, 2)),  # the flavor's preference; ties: more sockets
        (4, {"hw:cpu_sockets": "4"}, {"hw_cpu_cores": "4"}, (1, 4, 1)),  # the image's preference wins
        (4, {}, {"hw_cpu_max_sockets": "1"}, (1, 4, 1)),
        (6, {"hw:cpu_max_cores": "2"}, {"hw_cpu_max_threads": "1"}, (6, 1, 1)),  # limits only: more sockets
    ],
)
def test_nova_chooses_the_topology(
    vcpus: int, specs: dict[str, str], props: dict[str, str], expected: tuple[int, int, int]
) -> None:
    chosen = topology.choose(vcpus, specs, props)
    assert (chosen["sockets"], chosen["cores"], chosen["threads"]) == expected
    assert chosen["sockets"] * chosen["cores"] * chosen["threads"] == vcpus


@pytest.mark.parametrize(
    ("vcpus", "specs", "props", "message"),
    [
        (
            4,
            {"hw:cpu_max_sockets": "2"},
            {"hw_cpu_max_sockets": "4"},
            "Image vCPU topology limits (sockets=4, cores=65536, threads=65536) exceeds the limits of the flavor "
            "(sockets=2, cores=65536, threads=65536)",
        ),
        (
            4,
            {"hw:cpu_max_sockets": "2"},
            {"hw_cpu_sockets": "4"},
            "Image vCPU topology (sockets=4, cores=-1, threads=-1) exceeds the limits of the flavor or image "
            "(sockets=2, cores=65536, threads=65536)",
        ),
        (
            4,
            {},
            {"hw_cpu_max_sockets": "1", "hw_cpu_max_cores": "1", "hw_cpu_max_threads": "2"},
            "Requested vCPU limits 1:1:2 are impossible to satisfy for vcpus count 4",
        ),
        (2, {}, {"hw_cpu_cores": "two"}, "Invalid hw_cpu_cores value 'two': it must be a whole number."),
    ],
)
def test_an_impossible_topology_gives_novas_message(
    vcpus: int, specs: dict[str, str], props: dict[str, str], message: str
) -> None:
    with pytest.raises(topology.TopologyProblem) as problem:
        topology.choose(vcpus, specs, props)
    assert str(problem.value) == message


def rendered(props: dict[str, str], vcpus: int = 8) -> dict[str, Any]:
    s = dataclasses.replace(
        SERVER,
        flavor=dataclasses.replace(SERVER.flavor, vcpus=vcpus),
        image_source={**(SERVER.image_source or {}), "properties": props},
    )
    vm = kubevirt.render(s)
    assert_valid(vm)
    cpu: dict[str, Any] = vm["spec"]["template"]["spec"]["domain"]["cpu"]
    return cpu


def test_the_topology_is_rendered_into_domain_cpu() -> None:
    assert rendered({"hw_cpu_sockets": "2", "hw_cpu_threads": "2"}) == {"sockets": 2, "cores": 2, "threads": 2}
    assert rendered({}) == {"sockets": 1, "cores": 8, "threads": 1}
    assert "maxSockets" not in rendered({"hw_cpu_max_sockets": "2"})


def test_a_topology_that_cannot_be_given_renders_the_default_and_is_refused_at_accept() -> None:
    impossible = {"hw_cpu_max_sockets": "1", "hw_cpu_max_cores": "1", "hw_cpu_max_threads": "1"}
    assert rendered(impossible) == {"sockets": 1, "cores": 8, "threads": 1}
    image = {"spec": {"properties": impossible}}
    assert build.topology_problem(image, {"vcpus": 8}) == (
        "Requested vCPU limits 1:1:1 are impossible to satisfy for vcpus count 8"
    )
    assert build.topology_problem({"spec": {}}, {"vcpus": 8}) is None


def test_the_guest_agent_property_is_advisory() -> None:
    base = kubevirt.render(SERVER)
    with_agent = dataclasses.replace(
        SERVER, image_source={**(SERVER.image_source or {}), "properties": {"hw_qemu_guest_agent": "yes"}}
    )
    assert kubevirt.render(with_agent)["spec"]["template"]["spec"] == base["spec"]["template"]["spec"]
