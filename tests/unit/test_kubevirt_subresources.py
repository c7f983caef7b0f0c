"""The KubeVirt subresource call: the request virtctl makes, and what each answer means, with the
HTTP layer replaced by a stub (the real thing is tested against the dev cluster's virt-api)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from kubenova.kube import kubevirt

CONFIG = KubeConfig.from_dict(
    {
        "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example:6443"}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
)
PATH = "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachineinstances/vm/pause"


def _status(code: int, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}
    if details is not None:
        body["details"] = details
    return body


def _call(response: httpx2.Response, action: kubevirt.Action = "pause") -> list[httpx2.Request]:
    seen: list[httpx2.Request] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return response

    client = AsyncClient(config=CONFIG, transport=httpx2.MockTransport(handle))
    asyncio.run(kubevirt.vmi_subresource(client, "ns", "vm", action))
    return seen


def test_a_pause_is_a_put_of_an_empty_options_object_to_the_instance_subresource() -> None:
    (request,) = _call(httpx2.Response(200))
    assert (request.method, request.url.path, request.url.host) == ("PUT", PATH, "k8s.example")
    assert json.loads(request.content) == {}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer t0ken"  # the kubeconfig's credentials


@pytest.mark.parametrize(("action", "message"), [("pause", "VMI is already paused"), ("unpause", "VMI is not paused")])
def test_an_instance_already_in_the_wanted_state_is_success(action: kubevirt.Action, message: str) -> None:
    _call(httpx2.Response(409, json=_status(409, message)), action)


def test_an_instance_that_is_not_running_is_refused() -> None:
    with pytest.raises(kubevirt.SubresourceFailed) as info:
        _call(httpx2.Response(409, json=_status(409, "VMI is not running")), "unpause")
    assert (info.value.code, info.value.message) == (409, "VMI is not running")
    assert not isinstance(info.value, kubevirt.SubresourceUnavailable)


def test_a_group_the_api_server_does_not_serve_is_unavailable() -> None:
    not_served = _status(404, "the server could not find the requested resource", {})
    with pytest.raises(kubevirt.SubresourceUnavailable, match=r"subresources\.kubevirt\.io/v1 is not served"):
        _call(httpx2.Response(404, json=not_served))
    with pytest.raises(kubevirt.SubresourceUnavailable):  # an older server's plain-text 404
        _call(httpx2.Response(404, text="404 page not found"))


def test_a_missing_instance_is_a_failure_not_an_absent_api() -> None:
    missing = _status(404, 'virtualmachineinstance.kubevirt.io "vm" not found', {"name": "vm", "group": "kubevirt.io"})
    with pytest.raises(kubevirt.SubresourceFailed) as info:
        _call(httpx2.Response(404, json=missing))
    assert not isinstance(info.value, kubevirt.SubresourceUnavailable)
    assert info.value.message == 'virtualmachineinstance.kubevirt.io "vm" not found'


def test_an_unreachable_virt_api_is_a_failure_with_the_servers_words() -> None:
    with pytest.raises(kubevirt.SubresourceFailed, match=r"service unavailable \(HTTP 503\)"):
        _call(httpx2.Response(503, text="service unavailable\n"))
