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

    # Placement: Nova's current defaults (initial_*_allocation_ratio since 2023.1, reserved_host_*).
    cpu_allocation_ratio: float = Field(4.0, gt=0)
    ram_allocation_ratio: float = Field(1.0, gt=0)
    disk_allocation_ratio: float = Field(1.0, gt=0)
    reserved_host_memory_mb: int = Field(512, ge=0)
    reserved_host_cpus: int = Field(0, ge=0)
    reserved_host_disk_mb: int = Field(0, ge=0)

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
