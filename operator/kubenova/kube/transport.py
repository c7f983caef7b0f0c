"""An httpx transport that sends lightkube's requests through aiohttp.

Why: profiled during a build (issue 13), a third of the operator's CPU went to httpcore's
connection pool and its anyio streams, for the four or five requests a Server's build makes.
aiohttp (already kopf's client, with a C HTTP parser) does the same work for a fraction of that.
lightkube stays the one typed door: it builds each request and reads each answer as before; only
the bytes travel differently. httpx keeps everything above the transport: authentication (bearer
tokens, a service account's token file re-read on 401), the base URL, timeouts, redirects.

Answers are streamed (an httpx stream over aiohttp's body), so lightkube's watches and log reads
work as they did. aiohttp's errors become httpx's, which lightkube and kubenova already handle.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx2.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise mapped(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


def mapped(exc: BaseException, request: httpx2.Request) -> httpx2.TransportError:
    """aiohttp's error as the httpx error lightkube expects (all are ``httpx.HTTPError``s)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(str(exc), request=request)
    if isinstance(exc, TimeoutError):
        return httpx2.ReadTimeout(str(exc) or "timed out", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx2.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx2.RemoteProtocolError(str(exc), request=request)
    return httpx2.NetworkError(str(exc), request=request)


def _timeout(request: httpx2.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts (connect, read, write, pool) in aiohttp's terms."""
    t: dict[str, float | None] = request.extensions.get("timeout") or {}
    connect, pool = t.get("connect"), t.get("pool")
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=t.get("read"),
    )


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """At most ``limit`` connections to the API server, all kept alive (a TLS handshake is costly)."""

    def __init__(self, ssl_context: ssl.SSLContext, *, limit: int) -> None:
        self.ssl_context = ssl_context
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The session (made at the first request: aiohttp binds a session to the running event loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.limit, ssl=self.ssl_context, keepalive_timeout=60)
            # httpx decodes content-encodings itself, adds its own headers and keeps its own
            # cookies: aiohttp's cookie jar, filtered on every request, was 3% of the operator's
            # CPU during a build, for an API server that sets no cookie.
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self.session()
        body = await request.aread()
        headers: Any = list(request.headers.multi_items())
        try:
            response = await session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(request),
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise mapped(exc, request) from exc
        return httpx2.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
