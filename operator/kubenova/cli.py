"""The ``kubenova`` command: ``kubenova operator`` runs the operator; ``kubenova api`` serves the
OpenStack Compute API; ``kubenova crds`` prints the CustomResourceDefinitions
(``kubectl apply -f <(kubenova crds)`` installs them).
"""

from __future__ import annotations

import argparse
import sys

import yaml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubenova", description="OpenStack Nova's compute model on Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True)
    op = sub.add_parser("operator", help="run the operator against the current kubeconfig or service account")
    op.add_argument("--standalone", action="store_true", help="run without peering (KUBENOVA_STANDALONE)")
    op.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve Prometheus metrics here; empty turns them off (KUBENOVA_METRICS_ADDRESS, default 0.0.0.0:9090)",
    )
    api = sub.add_parser("api", help="serve the OpenStack Compute, Identity and Image APIs over kubenova's kinds")
    api.add_argument(
        "--address",
        metavar="HOST:PORT",
        default="0.0.0.0:8774",
        help="listen here (KUBENOVA_API_ADDRESS, default 0.0.0.0:8774)",
    )
    api.add_argument("--public-url", metavar="URL", help="the base URL clients reach (KUBENOVA_API_PUBLIC_URL)")
    sub.add_parser("crds", help="print every CustomResourceDefinition as YAML")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)

    if args.command == "operator":
        from kubenova import config, operator

        conf = config.load()
        if args.standalone:
            conf = conf.model_copy(update={"standalone": True})
        if args.metrics_address is not None:
            conf = conf.model_copy(update={"metrics_address": args.metrics_address})
        operator.run(conf)
    elif args.command == "api":
        import os

        from kubenova.compute_api import app

        address = os.environ.get("KUBENOVA_API_ADDRESS") if args.address == "0.0.0.0:8774" else None
        app.run(address or args.address, public_url=args.public_url)
    elif args.command == "crds":
        from kubenova.api import crds

        yaml.safe_dump_all(crds.all_crds(), sys.stdout, sort_keys=False)
    else:
        from importlib.metadata import version

        print(version("kubenova"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
