"""``python -m hack.devcluster build | run``: the Makefile's ``tools`` and ``run`` targets.

``run`` is the product's first command: it builds (once) and starts a local control plane with
simulated compute hosts, installs the CRDs, starts the operator, applies ``examples/``, shows
``kubectl get kubenova``, and keeps it all running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from hack.devcluster import building, cluster, computeapi, installing, operating, processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.devcluster")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the control plane's binaries into the cache (once)")
    run = sub.add_parser("run", help="start everything and keep it running until Ctrl-C")
    run.add_argument("--nodes", type=int, default=4, help="simulated compute hosts (default 4)")
    run.add_argument("--no-examples", action="store_true", help="do not apply examples/")
    args = parser.parse_args(argv)
    if args.command == "build":
        building.ensure_all()
        return 0
    return _run(args.nodes, examples=not args.no_examples)


def _run(nodes: int, *, examples: bool) -> int:
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    with cluster.running(cluster.default_root("dev"), nodes=nodes) as c:
        installing.install_crds(c)
        op = operating.start(c, name="operator", webhook=True)
        api: computeapi.ComputeApi | None = None
        try:
            if examples:
                installing.apply_examples(c)
                _settle(c)
            print(c.kubectl("get", "kubenova", "-A").stdout)
            print(c.kubectl("get", "hosts").stdout)
            if examples:  # 09-volumes: the servers' attached volumes, as `openstack server show` lists them
                columns = "SERVER:.metadata.name,VOLUMES ATTACHED:.status.volumesAttached[*].id"
                print(c.kubectl("get", "servers", "-n", "demo", "-o", f"custom-columns={columns}").stdout)
            api, clouds = computeapi.for_run(c)
            print(f"kubectl get servers -n demo:\n{c.kubectl('get', 'servers', '-n', 'demo').stdout}")
            print(f"openstack server list (the OpenStack Compute API at {api.url}):\n{computeapi.server_list(clouds)}")
            print(f"  OpenStack clients:  export OS_CLIENT_CONFIG_FILE={clouds} OS_CLOUD=kubenova-demo\n")
            kubectl = building.binary("kubectl")
            print(
                f"kubenova is running ({time.monotonic() - started:.0f}s to get here).\n"
                f"  Try:  export KUBECONFIG={c.kubeconfig}\n"
                f"        alias kubectl={kubectl}\n"
                f"        kubectl get kubenova -A        # everything kubenova serves\n"
                f"        kubectl get servers -n demo -w  # watch servers change state\n"
                f"        kubectl explain server.spec     # the API, documented\n"
                f"  Operator log: {op.log}\n"
                f"  Ctrl-C stops everything.",
                flush=True,
            )
            while not stopping:
                assert op.process is not None
                op.process.check()
                c.check_alive()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        except processes.ProcessError as exc:  # the operator or a component exited: its log's tail
            print(exc, file=sys.stderr)
            return 1
        finally:
            if api is not None:
                api.stop()
            op.stop()
            print("stopping the control plane...", file=sys.stderr)
    return 0


def _settle(c: cluster.Cluster, timeout: float = 30) -> None:
    """Wait (bounded) for the examples' objects to be Ready and the Hosts to count the servers
    placed on them (Host usage is written a moment after the claims), so the first listing is
    meaningful. An example meant to fail (over quota, say) just runs the clock out."""
    c.kubectl(
        "wait", "--for=condition=Ready", f"--timeout={int(timeout)}s", "-A", "--all",
        "flavors.compute.kubenova.io,keypairs.compute.kubenova.io,servers.compute.kubenova.io", check=False,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        placed = sum(1 for s in c.get_json("servers", "-A").get("items", []) if (s.get("status") or {}).get("claim"))
        counted = sum((h.get("status") or {}).get("runningVms", 0) for h in c.get_json("hosts").get("items", []))
        if counted >= placed:
            return
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
