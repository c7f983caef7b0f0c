"""lightkube's requests for one object, sent straight through aiohttp.

lightkube still builds each request (path, query, body, content type) and decodes each answer into
its models; what a read or a write of one object skips is httpx's layer in between: its Request and
Response models, its URL parsing and merging (pure Python, several parses per request), its auth
and redirect machinery. Over 1,500 merge patches on the local control plane that layer was a third
of the operator's CPU per request (1.28 ms through httpx and :mod:`.transport`, 0.83 ms straight
through aiohttp), and a Server's build makes about six requests.

Still through httpx: watches and lists (lightkube reads them as streams), any request answered 401
(httpx's auth re-reads a rotated service account token, then retries it), and every request of a
client whose credentials are not a bearer token, a token file or a client certificate (an exec
plugin: httpx's auth flow runs it).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx2
from lightkube import AsyncClient
from lightkube.config.client_adapter import BearerAuth, BearerTokenFileAuth, ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core import decoders
from lightkube.core.generic_client import BasicRequest, GenericAsyncClient, json_encode

from kubenova.kube.transport import AiohttpTransport, mapped

SIMPLE_AUTH = (BearerAuth, BearerTokenFileAuth)
"""httpx auths whose header one run of their flow gives (no request of their own to make)."""


def query(params: dict[str, Any]) -> dict[str, str]:
    """lightkube's query parameters as httpx would write them (``True`` as ``true``)."""
    return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items() if v is not None}


class DirectGenericClient(GenericAsyncClient):
    """lightkube's generic client, with :meth:`request` (one object, answered at once) sent
    through ``transport``'s aiohttp session."""

    def __init__(self, config: SingleConfig, *, field_manager: str, transport: AiohttpTransport, timeout: Any) -> None:
        super().__init__(
            # (lightkube types the transport as httpx's sync one; its async client takes an async one)
            ConnectionParams(timeout=timeout, trust_env=True, transport=transport, proxy=None, http2=False),  # type: ignore[arg-type]
            config,
            lazy=True,
            field_manager=field_manager,
        )
        self._transport = transport
        self._base = str(self._client.base_url).rstrip("/")
        auth = self._client.auth
        self._direct = auth is None or isinstance(auth, SIMPLE_AUTH)
        self._probe = httpx2.Request("GET", self._base)  # what the auth flow writes its header on
        # No compression: aiohttp would ask for it by default, and the session hands bodies to
        # httpx undecoded (see :mod:`.transport`).
        self._headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout.connect, sock_read=timeout.read)

    def _authorization(self) -> str | None:
        auth = self._client.auth
        if auth is None:
            return None  # a client certificate, in the TLS context
        flow = auth.sync_auth_flow(self._probe)
        header = next(flow).headers.get("Authorization")
        flow.close()
        return header

    async def request(  # noqa: PLR0917 - lightkube's signature, which its AsyncClient calls
        self,
        method: str,
        res: Any = None,
        obj: Any = None,
        name: str | None = None,
        namespace: str | None = None,
        watch: bool = False,
        headers: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        if watch or method == "list" or not self._direct:
            return await super().request(method, res, obj, name, namespace, watch, headers=headers, params=params)
        br = self.prepare_request(method, res, obj, name, namespace, watch, headers=headers, params=params)
        answer = await self._send(br)
        if answer is None:  # 401: httpx's auth renews the token (or says why not)
            return await super().request(method, res, obj, name, namespace, watch, headers=headers, params=params)
        status, content, content_type = answer
        if status >= 300:
            # lightkube's own error (ApiError with the API server's Status), from a response
            # made only now: errors are rare, and their cost does not matter.
            url = f"{self._base}/{br.url.lstrip('/')}"
            answered = httpx2.Response(
                status,
                content=content,
                headers={"Content-Type": content_type},
                request=httpx2.Request(br.method, url),
            )
            self.raise_for_status(answered)  # type: ignore[no-untyped-call]
        if br.response_type is None:
            return None
        return decoders.decode_object(content, br.response_type)

    async def _send(self, br: BasicRequest) -> tuple[int, bytes, str] | None:
        headers = {**self._headers, **(br.headers or {})}
        body = None
        if br.data is not None:
            body = json_encode(br.data)
            headers.setdefault("Content-Type", "application/json")
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        url = f"{self._base}/{br.url.lstrip('/')}"
        session = self._transport.session()
        try:
            async with session.request(
                br.method,
                url,
                params=query(br.params or {}),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                content = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", "")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise mapped(exc, httpx2.Request(br.method, url)) from exc
        if status == 401 and authorization:
            return None
        return status, content, content_type


class Client(AsyncClient):
    """lightkube's AsyncClient over :class:`DirectGenericClient`."""

    def __init__(self, config: SingleConfig, *, field_manager: str, transport: AiohttpTransport) -> None:
        super().__init__(config=config, field_manager=field_manager, transport=transport)
        self._client = DirectGenericClient(
            config, field_manager=field_manager, transport=transport, timeout=self._timeout
        )
