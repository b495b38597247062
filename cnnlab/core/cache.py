"""A small thread-safe least-recently-used cache, the one cache type of cnnlab: every cache is an
``LRU``, so every cache is bounded and a server that runs for a whole term holds no more than a
few of each thing. ``on_evict`` lets a cache of files delete the file it lets go of."""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

import torch

V = TypeVar("V")


class LRU(Generic[V]):
    def __init__(self, max_items: int, on_evict: Callable[[V], None] | None = None):
        self.max_items = max_items
        self.on_evict = on_evict
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            old = self._items.get(key)
            self._items[key] = value
            self._items.move_to_end(key)
            gone = [self._items.popitem(last=False)[1] for _ in range(len(self._items) - self.max_items)]
        if self.on_evict:
            for v in gone + ([old] if old is not None and old is not value else []):
                self.on_evict(v)
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The cached value, or ``make()``'s (computed outside the lock: two callers may both
        compute it; the second result replaces the first)."""
        value = self.get(key)
        return value if value is not None else self.put(key, make())

    def retain(self, keep: Callable[[Hashable], bool]) -> None:
        """Let go of every entry whose key ``keep`` refuses."""
        with self._lock:
            for key in [k for k in self._items if not keep(k)]:
                del self._items[key]

    def values(self) -> list[V]:
        """Every value kept, oldest first (a copy)."""
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def tensor_fingerprint(t: torch.Tensor, samples: int = 64) -> str:
    """A cheap content key for a big tensor: its shape and an even sample of its rows. Keys made
    from ``id()`` can name a new tensor once the old one is freed; this cannot."""
    step = max(1, len(t) // samples)
    h = hashlib.sha1(repr(tuple(t.shape)).encode())
    h.update(t[::step].contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


_digests: LRU[str] = LRU(256)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file (remembered while its size and modification time stay the same): tells
    whether a precomputed map or cached result still belongs to its checkpoint."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)

    def digest() -> str:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    return _digests.get_or_make(key, digest)
