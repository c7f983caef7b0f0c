from bench import profile, scale

RAW = """\
<module> (kubenova/__main__.py:3);run (kubenova/operator.py:80);_run (asyncio/events.py:80) 2
<module> (kubenova/__main__.py:3);run (asyncio/base_events.py:1);_read (kopf/_core/watching.py:10) 6
<module> (kubenova/__main__.py:3);handle (kubenova/handlers/servers.py:40);dumps (json/encoder.py:200) 3
<module> (kubenova/__main__.py:3);plan (/x/operator/kubenova/servers/planner.py:12) 1
"""


def test_group_of_frames() -> None:
    assert profile.group_of("_read (kopf/_core/watching.py:10)") == "kopf (event handling, watches, patches)"
    assert profile.group_of("plan (/x/operator/kubenova/servers/planner.py:12)") == "kubenova.servers"
    assert profile.group_of("send (httpcore/_async/http11.py:5)").startswith("HTTP client")
    assert profile.group_of("select (selectors.py:451)") == "asyncio event loop"
    assert profile.group_of("mystery (thing.py:1)") == "other"


def test_summarize_by_leaf() -> None:
    s = profile.summarize(RAW)
    assert s["samples"] == 12
    assert s["by_owner_pct"] == {
        "kopf (event handling, watches, patches)": 50.0,
        "kubenova.handlers": 25.0,
        "asyncio event loop": 16.7,
        "kubenova.servers": 8.3,
    }
    assert s["by_leaf_group_pct"] == {
        "kopf (event handling, watches, patches)": 50.0,
        "JSON": 25.0,
        "asyncio event loop": 16.7,
        "kubenova.servers": 8.3,
    }
    assert s["top_functions_pct"]["_read (watching.py)"] == 50.0
    assert profile.summarize("") == {"samples": 0}


def test_servers_gauge() -> None:
    text = (
        "# HELP kubenova_servers Servers\n# TYPE kubenova_servers gauge\n"
        'kubenova_servers{backend="container",status="ACTIVE"} 99.0\n'
        'kubenova_servers{backend="container",status="BUILD"} 1.0\n'
        'kubenova_servers_other{a="b"} 5.0\n'
    )
    assert scale.parse_servers_gauge(text) == 100


def test_servers_are_adopted_once_no_reconcile_is_queued() -> None:
    gauge = 'kubenova_servers{backend="container",status="ACTIVE"} 100.0\n'
    assert scale.parse_adopted(gauge + "kubenova_server_reconciles_queued 3.0\n") == 0
    assert scale.parse_adopted(gauge + "kubenova_server_reconciles_queued 0.0\n") == 100
    assert scale.parse_adopted(gauge) == 0  # an operator without the queue's gauge is not counted done
