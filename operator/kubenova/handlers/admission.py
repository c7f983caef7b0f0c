"""The validating admission webhook: kopf's admission server calling the pure checks of
:mod:`kubenova.admission` with a view built from kopf's indexes.

Registered by :func:`register` only when the operator is configured to serve webhooks (kopf
refuses to start with admission handlers and no server). ``failurePolicy`` comes from the
settings; kubenova's default is ``Ignore``: when the operator is down, ``kubectl apply`` still
works and the operator, once back, applies the same checks and answers with a fault in status
(see the README's "Admission" section).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import kopf

from kubenova import admission, config
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, indexes, server_index, state
from kubenova.kube import client as kube
from kubenova.kube import resources

log = logging.getLogger(__name__)


class ServiceWebhookServer(kopf.WebhookServer):
    """kopf's server, announcing itself to the API server through a Service (in a cluster)
    instead of a URL (the local control plane)."""

    def __init__(self, *, service: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        namespace, _, name_port = service.partition("/")
        self.service_namespace = namespace
        self.service_name, _, port = name_port.partition(":")
        self.service_port = int(port or 443)

    async def __call__(self, fn: Any) -> Any:  # an async generator of client configs, as kopf's
        async for client_config in super().__call__(fn):
            service_config: Any = {
                "service": {
                    "namespace": self.service_namespace,
                    "name": self.service_name,
                    "port": self.service_port,
                    "path": (self.path or "").rstrip("/"),
                }
            }
            if "caBundle" in client_config:
                service_config["caBundle"] = client_config["caBundle"]
            yield service_config


def server(conf: config.Settings) -> kopf.WebhookServer:
    host, _, port = conf.webhook_listen.rpartition(":")
    certs = Path(conf.webhook_cert_dir) if conf.webhook_cert_dir else None
    files: dict[str, Any] = {}
    if certs:
        files = {"certfile": certs / "tls.crt", "pkeyfile": certs / "tls.key"}
        if (certs / "ca.crt").exists():
            files["cafile"] = certs / "ca.crt"
    if conf.webhook_service:
        return ServiceWebhookServer(service=conf.webhook_service, addr=host or None, port=int(port), **files)
    return kopf.WebhookServer(addr=host or None, port=int(port), host=conf.webhook_host or None, **files)


def register(conf: config.Settings, registry: kopf.OperatorRegistry | None = None) -> None:
    """Add the validating handlers to kopf's registry, with the configured failure policy."""
    # persistent: kept in the configuration when the operator stops, so the failure policy (not
    # the absence of a webhook) decides what happens to writes meanwhile.
    opts: dict[str, Any] = {
        "ignore_failures": conf.webhook_failure_policy == "Ignore",
        "persistent": True,
        "registry": registry,
    }
    kopf.on.validate(GROUP, VERSION, "servers", id="servers", operations=["CREATE", "UPDATE"], **opts)(validate_server)
    kopf.on.validate(GROUP, VERSION, "keypairs", id="keypairs", operations=["CREATE"], **opts)(validate_keypair)
    kopf.on.validate(GROUP, VERSION, "servergroups", id="servergroups", operations=["CREATE"], **opts)(
        validate_server_group
    )
    kopf.on.validate(GROUP, VERSION, "aggregates", id="aggregates", operations=["CREATE", "UPDATE"], **opts)(
        validate_aggregate
    )
    kopf.on.validate(GROUP, VERSION, "images", id="images", operations=["DELETE"], **opts)(validate_image)


async def validate_server(
    *, namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, memo: kopf.Memo, **kw: Any
) -> None:
    ns = namespace or ""
    old: kopf.Body | None = kw.get("old")
    if kw.get("operation") == "CREATE":
        # A reference the indexes have not seen may have been created a moment ago: ask the API.
        key, group = spec.get("keyName"), (spec.get("schedulerHints") or {}).get("group")
        found = {
            "keypair": not key or (ns, key) in kw["keypair_keys"] or await _exists(memo, resources.Keypair, key, ns),
            "group": not group
            or (ns, group) in kw["server_group_specs"]
            or await _exists(memo, resources.ServerGroup, group, ns),
        }
        _raise(admission.server_create(ns, name, spec, _view(memo, kw, found)))
    elif old is not None:
        _raise(admission.server_update(ns, old.get("spec", {}), spec, status, _view(memo, kw)))


async def validate_keypair(*, namespace: str | None, memo: kopf.Memo, **kw: Any) -> None:
    _raise(admission.keypair_create(namespace or "", _view(memo, kw)))


async def validate_server_group(*, namespace: str | None, memo: kopf.Memo, **kw: Any) -> None:
    _raise(admission.server_group_create(namespace or "", _view(memo, kw)))


async def validate_aggregate(*, name: str, spec: kopf.Spec, memo: kopf.Memo, **kw: Any) -> None:
    _raise(admission.aggregate(name, spec, _view(memo, kw)))


async def validate_image(*, name: str, spec: kopf.Spec, **_: Any) -> None:
    _raise(admission.image_delete(name, spec))


def _view(memo: kopf.Memo, ix: dict[str, Any], found: dict[str, bool] | None = None) -> admission.View:
    # Limits and usage come from kopf's indexes: a Quota changed a moment ago takes effect here
    # once the operator has seen it (its status shows the new limit); the operator's own check,
    # under the scheduler's lock, holds either way.
    found = found or {}
    return admission.View(
        flavor=lambda name: common.first(ix["flavor_specs"], name),
        keypair_exists=lambda ns, name: found.get("keypair", (ns, name) in ix["keypair_keys"]),
        server_group_exists=lambda ns, name: found.get("group", (ns, name) in ix["server_group_specs"]),
        group_members=lambda ns, group: server_index.group_members(ix, ns, group),
        limits=lambda ns: indexes.quota_limits(memo, ix, ns),
        usage=lambda ns: indexes.quota_usage(memo, ix, ns),
        host_zones=lambda host: list(ix["host_aggregates"].get(host, [])),
        image=lambda name: common.first(ix["image_bodies"], name),
    )


async def _exists(memo: kopf.Memo, res: Any, name: str, namespace: str) -> bool:
    return await kube.get_dict(state.of(memo).client, res, name, namespace=namespace) is not None


def _raise(refusal: admission.Refusal | None) -> None:
    if refusal is not None:
        raise kopf.AdmissionError(refusal.message, code=refusal.code)
