"""Waiting for a change, the long polls' one way: ``Bell``.

A long poll (a page asks "anything newer than V?" and the server holds the request until there
is) costs the laptop one idle coroutine per page instead of a request per page and second. The
change comes from any thread (the teacher's request, the training thread); the waiting requests
live on the server's event loop. ``ring`` wakes them all at once, however many there are.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable


class Bell:
    """Wakes every coroutine waiting in ``wait`` when ``ring`` is called, from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def ring(self) -> None:
        """Every waiter returns (call it after the change is made, so they see it)."""
        with self._lock:
            event, loop = self._event, self._loop
            self._event = None
        if event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):         # that server has stopped
                loop.call_soon_threadsafe(event.set)

    async def wait(self, changed: Callable[[], bool], timeout: float) -> None:
        """Return at once when ``changed()``, else at the next ``ring``, else after ``timeout`` s.
        ``changed`` is asked under the bell's lock, so a ring between it and the wait is not lost."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if changed():
                return
            if self._event is None or self._loop is not loop:
                self._loop, self._event = loop, asyncio.Event()
            event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
