"""The page's own JavaScript and CSS (``cnnlab/ui/web``) at ``/cnnlab/web/<path>``, with an ETag
made from each file's bytes and ``Cache-Control: no-cache``: a browser keeps the file and asks
again with If-None-Match, and gets a 304 of a few hundred bytes while nothing changed.

Kept minimal on purpose: ``cnnlab/server/web.py`` (main branch) serves the same folder with the
same class and route beside the browser weights; this file folds into it when the branches meet.
"""
from __future__ import annotations

import hashlib
import mimetypes
import threading
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

WEB_ROOT = Path(__file__).resolve().parents[1] / "ui" / "web"
WEB_PREFIX = "/cnnlab/web"
REVALIDATE = "no-cache"
# Named here, not guessed: on Windows, mimetypes reads the registry, where .js is often text/plain
# (and a browser refuses to run a module served so) and .css may be too (the style is ignored).
KINDS = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".json": "application/json"}


class WebFiles:
    """The files of ``root``, read once (they ship with the package) and served by path; nothing
    outside the folder."""

    def __init__(self, root: Path = WEB_ROOT):
        self.root = Path(root).resolve()
        self._files: dict[str, tuple[bytes, str, str]] = {}
        self._lock = threading.Lock()

    def get(self, rel: str) -> tuple[bytes, str, str] | None:
        with self._lock:
            if rel in self._files:
                return self._files[rel]
        path = (self.root / rel).resolve()
        if not path.is_file() or self.root not in path.parents:
            return None
        data = path.read_bytes()
        kind = KINDS.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        with self._lock:
            return self._files.setdefault(rel, (data, etag, kind))

    async def __call__(self, request: Request) -> Response:
        found = self.get(request.path_params["path"])
        if found is None:
            return Response(status_code=404)
        data, etag, kind = found
        headers = {"ETag": etag, "Cache-Control": REVALIDATE}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=kind + ("; charset=utf-8" if kind.startswith("text/") else ""),
                        headers=headers)


def routes() -> list[Route]:
    # The bound method, not the instance: Starlette runs a callable object as a raw ASGI app.
    return [Route(WEB_PREFIX + "/{path:path}", WebFiles().__call__, methods=["GET"])]
