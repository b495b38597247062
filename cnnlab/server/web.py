"""What a phone fetches beside Gradio's page: the page's own JavaScript and CSS, and the weights
of a model its browser runs. Both are cached by the browser and sent again only when they change.

- ``/cnnlab/web/<path>``: a file from ``cnnlab/ui/web`` (ES modules, CSS), with an ETag made
  from its bytes; the browser asks again with If-None-Match and gets a 304 when nothing changed.
- ``/cnnlab/weights/<key>``: a zoo model in the browser's format (``core.nets.webexport``: a JSON
  header and float16 weights) with the file's digest as ETag, so a phone downloads the shipped
  CNN once, and "latest" again only when the class's run has made a new one.
- Compression: Gradio compresses only paths that end in .js/.css/... and only with brotli, which
  browsers ask for over HTTPS alone; the page itself (``/``, about 1 MB of HTML) and its JSON went
  out uncompressed over a classroom's plain-HTTP Wi-Fi. ``middleware()`` gzips every response
  over 1 kB (never the event streams).
"""
from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core import checkpoints
from ..core.cache import LRU
from ..core.nets import webexport
from ..i18n import DEFAULT, tr
from .pagecache import PageCache

WEB_ROOT = Path(__file__).resolve().parents[1] / "ui" / "web"
WEB_PREFIX = "/cnnlab/web"
WEIGHTS_PREFIX = "/cnnlab/weights"
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6             # the page (1 MB of HTML): 22 ms at 6, 34 ms at Starlette's 9, 1% larger
WEB_FILES = 256            # the page's files (about 40 ship)
WEB_MODELS = 8             # models exported for browsers (the zoo holds a few)
# Browsers keep the files and ask whether they changed: a 304 is a few hundred bytes.
REVALIDATE = "no-cache"
# Named here, not guessed: on Windows, mimetypes reads the registry, where .js is often text/plain
# (and a browser refuses to run a module served so) and .css may be too (the style is ignored).
KINDS = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".json": "application/json"}


def middleware() -> list[Middleware]:
    """The page kept once made (outermost: it keeps the compressed bytes), then compression."""
    return [Middleware(PageCache),
            Middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)]


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def _cached(request: Request, data: bytes, etag: str, media_type: str, cache: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": cache}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


class WebFiles:
    """The files of ``cnnlab/ui/web``, read once (they ship with the package) and served by path."""

    def __init__(self, root: Path = WEB_ROOT):
        self.root = root.resolve()
        self._files: LRU[tuple[bytes, str, str]] = LRU(WEB_FILES)

    def get(self, rel: str) -> tuple[bytes, str, str] | None:
        found = self._files.get(rel)
        if found is not None:
            return found
        path = (self.root / rel).resolve()
        if not path.is_file() or self.root not in path.parents:    # nothing outside the folder
            return None
        data = path.read_bytes()
        kind = KINDS.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self._files.put(rel, (data, _etag(data), kind))

    async def respond(self, request: Request) -> Response:
        found = self.get(request.path_params["path"])
        if found is None:
            return Response(status_code=404)
        data, etag, kind = found
        return _cached(request, data, etag, kind + ("; charset=utf-8" if kind.startswith("text/") else ""),
                       REVALIDATE)


class BrowserWeights:
    """A zoo model exported for the browser once per loaded checkpoint (the latest run is a new
    object when it changes), kept for the few models a lesson uses."""

    def __init__(self, zoo):
        self.zoo = zoo
        self._made: LRU[tuple[object, bytes, str]] = LRU(WEB_MODELS)

    def file(self, key: str) -> tuple[bytes, str]:
        loaded = self.zoo.get(key)                      # KeyError: no such model
        made = self._made.get(key)
        if made and made[0] is loaded:
            return made[1], made[2]
        data, digest = webexport.browser_file(loaded)   # WebExportError: the browser cannot run it
        self._made.put(key, (loaded, data, digest))
        return data, digest

    async def respond(self, request: Request) -> Response:
        lang = request.query_params.get("lang", DEFAULT)
        key = request.path_params["key"]
        try:
            data, digest = self.file(key)
        except KeyError:
            return Response(tr(lang, "web.no_model", key=key), status_code=404, media_type="text/plain; charset=utf-8")
        except (webexport.WebExportError, checkpoints.CheckpointError) as err:
            why = err.args[0] if err.args else err
            text = why.in_(lang) if hasattr(why, "in_") else str(why)
            return Response(text, status_code=422, media_type="text/plain; charset=utf-8")
        return _cached(request, data, f'"{digest}"', "application/octet-stream", REVALIDATE)


def routes(zoo=None) -> list[Route]:
    """The page's files, and (given the app's zoo) its models' browser weights. Bound methods, not
    the objects: Starlette would run a callable object as a raw ASGI app."""
    files = [Route(WEB_PREFIX + "/{path:path}", WebFiles().respond, methods=["GET"])]
    if zoo is None:
        return files
    return files + [Route(WEIGHTS_PREFIX + "/{key}", BrowserWeights(zoo).respond, methods=["GET"])]
