"""The app's own temporary files: pictures for the pages, GIFs, exports, checkpoint copies.

They live in one folder per running app, under the system temp directory (where Gradio may serve
files from). Anything older than ``max_age_s`` is deleted whenever a new folder is asked for, and
the whole folder goes when the app exits, so a server that runs all term does not fill the disk.
Gradio's own copies of what it serves are cleaned by ``gr.Blocks(delete_cache=...)``.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from pathlib import Path

MAX_AGE_S = 3600.0          # a download link on a page stays good for an hour


class Scratch:
    def __init__(self, max_age_s: float = MAX_AGE_S, root: str | Path | None = None):
        self.max_age_s = max_age_s
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="cnnlab-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        if root is None:
            atexit.register(shutil.rmtree, self.root, True)

    def folder(self, prefix: str) -> Path:
        """A new, empty folder (old ones are pruned first)."""
        self.prune()
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def shared_folder(self, name: str) -> Path:
        """A folder that lives as long as the app (its old files are pruned, not the folder)."""
        path = self.root / f"keep-{name}"
        path.mkdir(exist_ok=True)
        return path

    def prune(self) -> int:
        """Delete what is older than max_age_s (a folder by its last change); returns how many."""
        cutoff = time.time() - self.max_age_s
        gone = 0
        with self._lock:
            for entry in list(self.root.iterdir()):
                kept = entry.name.startswith("keep-")
                for p in (entry.iterdir() if kept else [entry]):
                    try:
                        if p.stat().st_mtime >= cutoff:
                            continue
                        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                        gone += 1
                    except FileNotFoundError:
                        pass
        return gone
