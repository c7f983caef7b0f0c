"""Kubernetes as the caller of the Compute API (:mod:`kubenova.compute_api`), never as kubenova.

The Compute API holds no rights of its own over kubenova's kinds: every read and write it makes
for a request goes out with that request's own bearer token, so Kubernetes RBAC decides each call
exactly as for kubectl and the audit log names the real user. The one call made with the API's
own identity is the TokenReview that checks a token when it is exchanged for a Keystone token.

Objects go in and come out as plain JSON-like dicts; a refusal by the API server is
:class:`Refused` with its HTTP code, so nothing above this package sees lightkube.

One HTTP transport (its connections and TLS settings) is shared by every caller's client, so a
request costs no new TLS handshake; each client only adds its own ``Authorization`` header.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import User
from lightkube.models.authentication_v1 import TokenReviewSpec
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.authentication_v1 import TokenReview
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import Namespace, Pod, Secret
from lightkube.types import PatchType

from kubenova.api.common import GROUP
from kubenova.kube import networks, resources, transport

FIELD_MANAGER = "kubenova-compute-api"

KINDS: dict[str, Any] = {
    "flavors": resources.Flavor,
    "images": resources.Image,
    "hosts": resources.Host,
    "aggregates": resources.Aggregate,
    "keypairs": resources.Keypair,
    "servers": resources.Server,
    "serveractions": resources.ServerAction,
    "servergroups": resources.ServerGroup,
    "securitygroups": resources.SecurityGroup,
    "quotas": resources.Quota,
    "migrations": resources.Migration,
    "network-attachment-definitions": networks.NetworkAttachmentDefinition,
}
"""kubenova's kinds by plural, the names the Compute API uses."""


class Refused(Exception):
    """The API server refused the call: ``code`` is its HTTP status (401, 403, 404, 409, 422...)."""

    def __init__(self, code: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a bearer token is, as the API server's TokenReview says."""

    username: str
    uid: str
    groups: tuple[str, ...]


def _refused(exc: ApiError) -> Refused:
    status = exc.status
    return Refused(int(status.code or 500), str(status.message or ""), str(status.reason or ""))


class Door:
    """The Compute API's one connection to the API server; :meth:`as_caller` gives each request
    a client that carries the caller's own token."""

    def __init__(self, config: KubeConfig | None = None) -> None:
        conf = config or KubeConfig.from_env()
        single = conf.get()
        if single is None:
            raise RuntimeError("no current context in the kubeconfig")
        self._single: SingleConfig = single
        self._own = AsyncClient(config=conf, field_manager=FIELD_MANAGER)
        # TLS to the API server without the API's own client certificate: callers bring tokens.
        verify = verify_cluster(single.cluster, User(), single.abs_file)
        # Through aiohttp, as the operator's client (kubenova.kube.transport: why), shared by
        # every caller's client so that connections are kept alive across requests.
        self._transport = transport.AiohttpTransport(verify, limit=32)

    def as_caller(self, token: str) -> Caller:
        single = self._single._replace(user=User(token=token))
        client = AsyncClient(config=single, field_manager=FIELD_MANAGER, transport=self._transport)
        return Caller(client)

    async def review(self, token: str) -> Identity | None:
        """Who ``token`` is, or None if the API server does not accept it (a TokenReview, made with
        the API's own identity: its only right)."""
        try:
            result = await self._own.create(TokenReview(spec=TokenReviewSpec(token=token)))
        except ApiError as exc:
            raise _refused(exc) from exc
        status = result.status
        if status is None or not status.authenticated or status.user is None:
            return None
        user = status.user
        return Identity(username=user.username or "", uid=user.uid or "", groups=tuple(user.groups or ()))

    async def close(self) -> None:
        await self._own.close()
        await self._transport.aclose()


class Caller:
    """kubenova's kinds, and the few core objects the Compute API reads, as one caller."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None if it does not exist."""
        try:
            obj = await self._client.get(KINDS[kind], name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise _refused(exc) from exc
        return _plain(obj)

    async def list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``kind`` in ``namespace`` (``"*"``: in every namespace)."""
        res = KINDS[kind]
        try:
            if namespace is None:
                it = self._client.list(res, labels=_labels(label_selector))
            else:
                it = self._client.list(res, namespace=namespace, labels=_labels(label_selector))
            return [_plain(o) async for o in it]
        except ApiError as exc:
            raise _refused(exc) from exc

    async def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            obj = await self._client.create(KINDS[kind].from_dict(body))
        except ApiError as exc:
            raise _refused(exc) from exc
        return _plain(obj)

    async def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """A JSON merge patch of the object (its spec or metadata; status is the operator's)."""
        try:
            obj = await self._client.patch(KINDS[kind], name, patch, namespace=namespace, patch_type=PatchType.MERGE)
        except ApiError as exc:
            raise _refused(exc) from exc
        return _plain(obj)

    async def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        try:
            await self._client.delete(KINDS[kind], name, namespace=namespace)
        except ApiError as exc:
            raise _refused(exc) from exc

    async def can(
        self, verb: str, resource: str, namespace: str | None = None, *, group: str = GROUP, name: str | None = None
    ) -> bool:
        """Whether RBAC lets the caller ``verb`` ``resource`` (a SelfSubjectAccessReview)."""
        review = SelfSubjectAccessReview(
            spec=SelfSubjectAccessReviewSpec(
                resourceAttributes=ResourceAttributes(
                    verb=verb, group=group, resource=resource, namespace=namespace, name=name
                )
            )
        )
        try:
            result = await self._client.create(review)
        except ApiError as exc:
            raise _refused(exc) from exc
        return bool(result.status and result.status.allowed)

    async def namespaces(self) -> builtins.list[str] | None:
        """The names of every namespace, or None if the caller may not list them."""
        try:
            return [o.metadata.name async for o in self._client.list(Namespace) if o.metadata and o.metadata.name]
        except ApiError as exc:
            if exc.status.code == 403:
                return None
            raise _refused(exc) from exc

    async def namespace_exists(self, name: str) -> bool | None:
        """Whether the namespace exists; None if the caller may not read it."""
        try:
            await self._client.get(Namespace, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return False
            if exc.status.code == 403:
                return None
            raise _refused(exc) from exc
        return True

    async def pod_log(
        self, name: str, namespace: str, *, tail_lines: int | None = None, container: str | None = None
    ) -> str | None:
        """The log of a Pod's container (its first, if not named), or None if there is no such
        Pod, it has not started, or its node cannot serve it."""
        try:
            lines = [
                line
                async for line in self._client.log(
                    name, namespace=namespace, tail_lines=tail_lines, container=container
                )
            ]
        except ApiError as exc:
            if exc.status.code in (400, 404, 500, 502, 503):  # no such Pod, not started, kubelet unreachable
                return None
            raise _refused(exc) from exc
        return "".join(lines)

    async def pod_names(self, namespace: str, labels: Mapping[str, str]) -> builtins.list[str]:
        """The Pods of ``namespace`` with ``labels`` (a VM's virt-launcher Pods), by name."""
        selector: dict[str, Any] = dict(labels)
        try:
            pods = [p async for p in self._client.list(Pod, namespace=namespace, labels=selector)]
        except ApiError as exc:
            raise _refused(exc) from exc
        return sorted(str(p.metadata.name) for p in pods if p.metadata)

    async def secret_data(self, name: str, namespace: str) -> dict[str, str] | None:
        """A Secret's data decoded as text, or None if there is none."""
        import base64

        try:
            secret = await self._client.get(Secret, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise _refused(exc) from exc
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def _labels(selector: str | None) -> dict[str, Any] | None:
    if not selector:
        return None
    out: dict[str, Any] = {}
    for part in selector.split(","):
        key, _, value = part.partition("=")
        out[key] = value
    return out


def _plain(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result
