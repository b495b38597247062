"""Background work, one design for all of it: the class's shared run, the own classes' picture
reader, the t-SNE snapshot mapper and every student's weather run.

* ``Stop`` is a stop request. The work looks at it between its small pieces (a batch, a chunk of
  steps, a picture, a map) and ends at the next one. Whoever waits on a piece is woken the moment
  Stop is pressed, a thread through ``wait`` or an async handler through ``until``, so Stop acts
  at once and never at some poll's next tick.
* ``Background`` runs one task at a time on its own named daemon thread. ``start`` runs a task now
  or says it is busy; ``kick`` asks for one more pass of the task once the pass going on ends (a
  reader woken by new pictures). A task's failure is logged, never lost with its thread. ``setup``
  runs first in the thread: the work takes the cores below the students' requests
  (``threads.configure_training_thread``).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
Task = Callable[["Stop"], None]


class Stop(threading.Event):
    """A stop request: a ``threading.Event`` that also wakes async waiters the moment it is set."""

    def __init__(self):
        super().__init__()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._waiters_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._waiters_lock:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(lambda f=future: f.done() or f.set_result(None))

    async def until(self, work: Awaitable[T]) -> T | None:
        """``await work``, or None as soon as Stop is pressed (``work`` then goes on unawaited:
        a piece of work that sees the Stop ends at its next check)."""
        task = asyncio.ensure_future(work)
        if self.is_set():
            return None
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()
        with self._waiters_lock:
            self._waiters.append((loop, stopped))
        if self.is_set():                           # set between the check and the registration
            stopped.done() or stopped.set_result(None)
        try:
            await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            with self._waiters_lock:
                self._waiters = [w for w in self._waiters if w[1] is not stopped]
        return None if self.is_set() else task.result()


class Background:
    """One task at a time on a named daemon thread, with its own ``Stop`` for each task."""

    def __init__(self, name: str, setup: Callable[[], object] | None = None):
        self.name, self.setup = name, setup
        self.stop_request = Stop()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again: Task | None = None          # the pass ``kick`` asked for after the current one

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def start(self, task: Task) -> bool:
        """Run ``task(stop)`` on a new thread now; False (and nothing starts) while a task runs."""
        with self._lock:
            if self._thread is not None:
                return False
            self._begin(task)
            return True

    def kick(self, task: Task) -> None:
        """Run ``task(stop)`` now, or once more when the task going on ends (however many kicks
        came meanwhile): work that arrives during a pass is never left waiting."""
        with self._lock:
            if self._thread is None:
                self._begin(task)
            else:
                self._again = task

    def stop(self) -> bool:
        """Ask the running task to end at its next check (and drop a pass ``kick`` asked for);
        False when nothing runs."""
        with self._lock:
            self._again = None
            if self._thread is None:
                return False
            self.stop_request.set()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no task runs (tests, scripts, shutting down); True when idle."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def _begin(self, task: Task) -> None:
        """Caller holds the lock."""
        self.stop_request = Stop()
        self._thread = threading.Thread(target=self._run, args=(task, self.stop_request), name=self.name,
                                         daemon=True)
        self._thread.start()

    def _run(self, task: Task, stop: Stop) -> None:
        if self.setup is not None:
            self.setup()
        while True:
            try:
                task(stop)
            except Exception:                        # a background thread must never fail silently
                log.exception("background task %s failed", self.name)
            with self._lock:
                task, self._again = self._again, None
                if task is None:
                    self._thread = None
                    return
                if stop.is_set():                    # a kick after a Stop: the new pass runs afresh
                    stop = self.stop_request = Stop()
