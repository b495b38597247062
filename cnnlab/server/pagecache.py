"""Gradio's page, made once per address instead of once per visit.

Gradio builds its page for every visit: about 1 MB of HTML holding the whole app's config, ~93 ms
of the laptop's CPU, then ~22 ms more to gzip it. When forty phones open the page in the same
minute they wait on each other, and on everything else the laptop serves meanwhile. The page
is the same for every visitor who asks for the same address the same way: the config is fixed
when the app launches (a component's later values come from its events, never from the page),
the language is applied by the page's own script, and this app uses no Gradio login. So
``PageCache`` keeps the response, compressed, per (path, query, host and proxy headers,
compression) and sends those bytes again, with an ETag so that a second visit gets a 304.
"""
from __future__ import annotations

import hashlib

from ..core.cache import LRU

PAGE_PATHS = ("/",)
KEPT = 16                 # addresses kept (a lead link per tab, a proxy's host ...): a bound, not a guess
# What Gradio's page depends on (route_utils.get_root_url) and what the compression depends on.
KEY_HEADERS = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-prefix")


class PageCache:
    """ASGI middleware: the first answer to ``GET /`` (status 200, one body) for each key is kept
    and answered from then on. Put it outside the compression so the compressed bytes are kept."""

    def __init__(self, app, paths=PAGE_PATHS, kept: int = KEPT):
        self.app, self.paths = app, tuple(paths)
        self._pages: LRU[tuple[list, bytes]] = LRU(kept)      # key -> (headers, body)
        self.served = 0                      # answers from the cache (tests read it)

    @staticmethod
    def key(scope) -> tuple:
        headers = dict(scope.get("headers") or ())
        gzip = b"gzip" in headers.get(b"accept-encoding", b"")
        return (scope["path"], scope.get("query_string", b""), scope.get("root_path", ""), gzip,
                *(headers.get(h) for h in KEY_HEADERS))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        found = self._pages.get(key)
        if found is not None:
            self.served += 1
            await self._answer(scope, send, *found)
            return
        start, body = {}, []

        async def keep(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body", False) and start.get("status") == 200:
                    self._keep(key, list(start.get("headers", [])), b"".join(body))
            await send(message)

        await self.app(scope, receive, keep)

    def _keep(self, key: tuple, headers: list, body: bytes) -> None:
        etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
        headers = [(k, v) for k, v in headers if k.lower() not in (b"etag", b"cache-control")]
        headers += [(b"etag", etag), (b"cache-control", b"no-cache")]
        self._pages.put(key, (headers, body))

    @staticmethod
    async def _answer(scope, send, headers: list, body: bytes) -> None:
        etag = dict(headers).get(b"etag", b"")
        asked = dict(scope.get("headers") or ()).get(b"if-none-match", b"")
        if etag and etag in asked:
            kept = [(k, v) for k, v in headers if k.lower() in (b"etag", b"cache-control", b"vary")]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
