"""The dev cluster's kubeconfig files: :func:`write_kubeconfig` writes one for a server and a CA
as a user with a client certificate (:func:`client_cert`) or a token. :mod:`hack.devcluster.cluster`
writes the admin's and the controller manager's, and a ServiceAccount's for the tests.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import yaml

from hack.devcluster import certs


def write_kubeconfig(path: Path, server: str, ca: certs.Pair, user: str, credentials: Mapping[str, str]) -> Path:
    """A kubeconfig for ``server`` (trusting ``ca``) as ``user``: a client certificate's
    ``client-certificate-data``/``client-key-data``, or a ``token``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kubenova-dev", "cluster": {"server": server, "certificate-authority-data": b64(ca.cert)}}
        ],
        "users": [{"name": user, "user": dict(credentials)}],
        "contexts": [{"name": "kubenova-dev", "context": {"cluster": "kubenova-dev", "user": user}}],
        "current-context": "kubenova-dev",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def b64(path: Path) -> str:
    """A file's bytes in base64, as a kubeconfig's ``*-data`` fields hold them."""
    return base64.b64encode(path.read_bytes()).decode()


def client_cert(pair: certs.Pair) -> dict[str, str]:
    """A user's credentials in a kubeconfig: its client certificate and key."""
    return {"client-certificate-data": b64(pair.cert), "client-key-data": b64(pair.key)}
