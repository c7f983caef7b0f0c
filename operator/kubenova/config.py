"""The operator's settings, read from ``KUBENOVA_*`` environment variables.

Read once by :mod:`kubenova.operator` at start-up and kept in kopf's memo, so handlers see one
frozen copy. The Helm chart sets these through the Deployment's environment; every field is
listed with its default in the README's "Configuration" table.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Operator settings. Environment: ``KUBENOVA_<FIELD>`` (e.g. ``KUBENOVA_DEFAULT_BACKEND``)."""

    model_config = SettingsConfigDict(env_prefix="KUBENOVA_", frozen=True, extra="ignore")

    # Workloads
    default_backend: Literal["kubevirt", "container"] = "container"
    """Backend for a Server whose spec and flavor name none."""
    root_disk_storage_class: str = ""
    """Storage class of a kubevirt server's root disk (a CDI DataVolume) when its flavor's
    ``kubenova:storage_class`` extra spec names none; empty: the cluster's default class."""

    # Placement: Nova's current defaults (initial_*_allocation_ratio since 2023.1, reserved_host_*).
    cpu_allocation_ratio: float = Field(4.0, gt=0)
    ram_allocation_ratio: float = Field(1.0, gt=0)
    disk_allocation_ratio: float = Field(1.0, gt=0)
    reserved_host_memory_mb: int = Field(512, ge=0)
    reserved_host_cpus: int = Field(0, ge=0)
    reserved_host_disk_mb: int = Field(0, ge=0)

    vanished_sweep_seconds: float = Field(60.0, ge=0)
    """How often the Servers are listed to find those deleted while the watch was away (after
    kube-apiserver restarts, kopf re-lists and never hears of them); 0: never."""
    refresh_delay_seconds: float = Field(1.0, ge=0)
    """How long a summary status (a Host's usage, a Quota's) waits to gather changes into one
    write: a burst of placements costs one write, not one per server. Claims and quota checks
    never wait for it."""
    usage_interval_seconds: float = Field(10.0, ge=0)
    """At most one usage write per Host, and per namespace's Quota, in this many seconds: the
    first change after a quiet spell is written after ``refresh_delay_seconds``, the changes
    within the interval after it once when it ends (kubelet reports a Node's status every 10 s,
    Nova's resource tracker a host's usage every 60 s). Claims and quota checks never wait for
    it; 0: no interval."""

    # Quotas
    default_quota: dict[str, int] = Field(default_factory=dict)
    """Limits for namespaces (or resources) no Quota sets, as JSON (``{"instances": 20}``);
    resources it leaves out keep Nova's defaults (instances 10, cores 20, ram 51200...)."""

    # Admission webhook
    webhook_listen: str = ""
    """Where the validating webhook listens (``0.0.0.0:9443``); empty runs no webhook."""
    webhook_cert_dir: str = ""
    """Folder with ``tls.crt``, ``tls.key`` and ``ca.crt`` (the Secret the chart mounts)."""
    webhook_service: str = ""
    """``namespace/name[:port]`` of the Service the API server reaches the webhook through (in
    a cluster); empty announces a URL instead (``webhook_host``, the local control plane)."""
    webhook_host: str = ""
    """Host name or address in the webhook URL when no Service is set."""
    webhook_configuration: str = ""
    """Name of the ValidatingWebhookConfiguration the operator keeps up to date (kopf's
    ``managed``); empty leaves the configuration to whoever installed it."""
    webhook_failure_policy: Literal["Ignore", "Fail"] = "Ignore"
    """What the API server does when the webhook cannot be reached. ``Ignore``: writes go
    through and the operator applies the same checks when it is back (faults in status)."""

    # kopf
    peering: str = "kubenova"
    """Name of the ClusterKopfPeering object that keeps a single active replica."""
    peering_priority: int = Field(default_factory=lambda: random.randint(1, 32767), ge=0)
    """This replica's priority: the highest live one works, the others stand by. kopf runs
    replicas of equal priority side by side, so each gets a random one unless set."""
    standalone: bool = False
    """Run without peering (tests, a single local process)."""
    health_address: str = "0.0.0.0:8080"
    """Where kopf serves its liveness endpoint (``/healthz``)."""
    metrics_address: str = "0.0.0.0:9090"
    """Where the Prometheus metrics are served (``/metrics``); empty disables them."""
    watch_timeout_seconds: int = Field(300, gt=0)
    """Server-side timeout of each watch request; kopf reconnects after it."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def load() -> Settings:
    return Settings()
