"""The Events kubenova posts read as kubectl describe expects them."""

from __future__ import annotations

import datetime

from kubenova.kube import events


def test_an_event_names_the_object_the_controller_and_the_action() -> None:
    server = {"apiVersion": "compute.kubenova.io/v1alpha1", "kind": "Server",
              "metadata": {"name": "web", "namespace": "demo", "uid": "u-1"}}  # fmt: skip
    when = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)
    ev = events.render(server, type="Normal", reason="Stopped", action="stop", note="stop finished", now=when)
    assert ev["metadata"]["namespace"] == "demo"
    assert ev["metadata"]["name"].startswith("web.")
    assert ev["regarding"] == {"apiVersion": server["apiVersion"], "kind": "Server", "name": "web",
                               "namespace": "demo", "uid": "u-1"}  # fmt: skip
    assert (ev["reason"], ev["action"], ev["type"], ev["note"]) == ("Stopped", "stop", "Normal", "stop finished")
    assert ev["eventTime"] == "2026-11-24T12:00:00.000000Z"
    assert ev["reportingController"] == events.CONTROLLER
