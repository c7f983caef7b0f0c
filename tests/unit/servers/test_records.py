"""A move's Migration record (kubenova.servers.records) and its os-migrations view: named after
the move's request id, owned by the server, with Nova's fields."""

from __future__ import annotations

from kubenova.compute_api import microversions
from kubenova.compute_api.migrations import migration_view
from kubenova.servers import records

BODY = {
    "metadata": {"name": "web", "namespace": "demo", "uid": "u-1"},
    "status": {
        "updated": "2026-12-01T00:00:05Z",
        "migration": {
            "kind": "live-migration",
            "sourceHost": "h1",
            "destHost": "h2",
            "oldFlavor": "m1.small",
            "newFlavor": "m1.small",
            "status": "running",
            "requestId": "req-0123456789ab",
            "created": "2026-12-01T00:00:00Z",
        },
    },
}


def test_a_move_is_recorded_under_its_request_id() -> None:
    rec = records.of_server(BODY)
    assert rec is not None
    assert rec.name == "web-01234567"
    assert rec.body["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert rec.body["spec"] == {
        "server": "web",
        "serverUid": "u-1",
        "migrationType": "live-migration",
        "sourceCompute": "h1",
        "destCompute": "h2",
        "oldFlavor": "m1.small",
        "newFlavor": "m1.small",
        "requestId": "req-0123456789ab",
        "createdAt": "2026-12-01T00:00:00Z",
    }
    assert (rec.status["status"], rec.status["updatedAt"]) == ("running", "2026-12-01T00:00:05Z")
    assert rec.status["conditions"][0]["status"] == "False"  # Ready once it has ended


def test_no_move_no_record() -> None:
    assert records.of_server({"metadata": BODY["metadata"], "status": {}}) is None


def test_the_record_as_novas_os_migrations_entry() -> None:
    rec = records.of_server(BODY)
    assert rec is not None
    obj = rec.body | {"status": rec.status}
    view = migration_view(obj, microversions.MAX)
    assert view is not None
    assert {k: view[k] for k in ("instance_uuid", "source_compute", "dest_node", "status", "migration_type")} == {
        "instance_uuid": "u-1",
        "source_compute": "h1",
        "dest_node": "h2",
        "status": "running",
        "migration_type": "live-migration",
    }
    assert (view["created_at"], view["updated_at"], view["project_id"]) == (
        "2026-12-01T00:00:00Z",
        "2026-12-01T00:00:05Z",
        "demo",
    )
