import json
from typing import Any

from bench import replay

NS = "/apis/compute.kubenova.io/v1alpha1/namespaces/bench-record/servers"


def event(
    verb: str, uri: str, ts: str, resource: str, *, sub: str = "", body: object = None, **kw: object
) -> dict[str, Any]:
    return {
        "stage": "ResponseComplete",
        "verb": verb,
        "requestURI": uri,
        "requestReceivedTimestamp": ts,
        "objectRef": {"resource": resource, "subresource": sub, "namespace": "bench-record"},
        "user": {"username": kw.get("user", "admin")},
        "userAgent": kw.get("agent", "python-httpx"),
        **({"requestObject": body} if body is not None else {}),
    }


def test_plan_keeps_the_builds_requests_in_order_and_marks_kwok() -> None:
    events = [
        event("patch", f"{NS}/s/status", "03", "servers", sub="status", body={"status": {"status": "ACTIVE"}}),
        event("create", NS, "01", "servers", body={"metadata": {"name": "s"}}),
        event("patch", f"{NS}/s", "02", "servers", body={"metadata": {"finalizers": ["f"], "resourceVersion": "9"}}),
        event("create", "/api/v1/namespaces/bench-record/pods", "02.5", "pods", body={"kind": "Pod"}),
        event(
            "patch",
            "/api/v1/namespaces/bench-record/pods/s/status",
            "02.7",
            "pods",
            sub="status",
            body=[],
            agent="kwok/v0",
        ),
        event(
            "patch",
            "/api/v1/namespaces/bench-record/pods/s/status",
            "02.8",
            "pods",
            sub="status",
            body=[],
            agent="kwok/v0",
        ),
        event("create", "/api/v1/namespaces/bench-record/configmaps", "00", "configmaps", user="system:sa:kcm"),
        event("create", "/api/v1/namespaces", "00", "namespaces"),
        event("create", "/apis/compute.kubenova.io/v1alpha1/namespaces/bench-record/quotas", "00.5", "quotas"),
        event("get", f"{NS}/s", "02.9", "servers"),
        {**event("create", NS, "01", "servers"), "stage": "ResponseStarted"},
    ]
    steps = replay.plan(events)
    assert [s.what for s in steps] == [
        "create servers",
        "patch servers",
        "create pods",
        "kwok runs the Pod",
        "get servers",
        "patch servers/status",
    ]
    # The resourceVersion precondition is dropped; patches are merge patches (a list: JSON patch).
    assert json.loads(steps[1].body or "") == {"metadata": {"finalizers": ["f"]}}
    assert steps[1].content_type == "application/merge-patch+json"
    assert steps[0].method == "POST"
    assert steps[3].method == replay.WAIT_POD_RUNNING
    assert steps[4].body is None


def test_substitute_longest_first() -> None:
    names = {"rec": "new1", "rec-pod": "pod9", "bench-record": "bench-replay"}
    assert replay.substitute("/bench-record/rec-pod/rec", names) == "/bench-replay/pod9/new1"


def test_plan_sends_the_namespaces_requests_once_and_applies_as_applies() -> None:
    policies = "/apis/networking.k8s.io/v1/namespaces/bench-record/networkpolicies/sg-default"
    events = [
        event("create", NS, "01", "servers", body={"metadata": {"name": "recorded"}}),
        event("create", NS.replace("servers", "securitygroups"), "02", "securitygroups", body={"kind": "SG"}),
        event("patch", policies, "03", "networkpolicies", body={"apiVersion": "networking.k8s.io/v1", "kind": "X"}),
        event("patch", f"{NS}/recorded/status", "04", "servers", sub="status", body={"status": {}}),
    ]
    steps = replay.plan(events, server="recorded")
    assert [s.once for s in steps] == [False, True, True, False]
    assert steps[2].content_type == "application/apply-patch+yaml"
    assert steps[3].content_type == "application/merge-patch+json"
