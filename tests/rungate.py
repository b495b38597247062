"""Hold a shared training run at a known batch, so a test can look at it or act on it mid-run
without hoping to catch it there (a busy machine makes any run arbitrarily slow or fast).

A subscriber to the job's "start" event puts a forward pre-hook on the run's model; the hook runs
in the training thread before every training batch and, before the batches named in ``hold``,
waits until the test lets it go on. The engine checks its stop flag between batches, so a run
held before batch k and stopped meanwhile ends with exactly k batches trained.

    with RunGate(job, hold=[3]) as gate:
        job.start(config)
        gate.wait_held()              # 2 batches done, the 3rd about to start
        ...                           # look at the snapshot, press Stop, ...
        gate.release()
"""
from __future__ import annotations

import queue
import threading
import time

WAIT_S = 600.0              # generous: a niced training thread on a busy machine can crawl


class RunGate:
    def __init__(self, job, hold=()):
        self.job = job
        self.hold = set(hold)
        self.batches = 0                      # training batches started (forward passes in train mode)
        self._arrived: queue.Queue = queue.Queue()
        self._go: queue.Queue = queue.Queue()
        self._held_since = 0.0
        self._open = threading.Event()        # set on exit: nothing holds any more
        self._hooks = []

    def __enter__(self) -> RunGate:
        self.job.subscribe(self._listen)
        return self

    def __exit__(self, *exc) -> None:
        self._open.set()
        self._go.put(None)                    # a run still held goes on
        self.job.unsubscribe(self._listen)
        for handle in self._hooks:
            handle.remove()

    def _listen(self, event, model, config) -> None:
        if event.kind == "start" and not self._open.is_set():
            self._hooks.append(model.register_forward_pre_hook(self._before_batch))

    def _before_batch(self, module, args) -> None:
        if not module.training or self._open.is_set():
            return                            # validation and grid predictions run in eval mode
        self.batches += 1
        if self.batches in self.hold:
            self._arrived.put(self.batches)
            self._go.get(timeout=10 * WAIT_S)  # never hang a test session for ever

    def wait_held(self, timeout: float = WAIT_S) -> int:
        """Block until the run is held; returns the batch it is held before."""
        try:
            batch = self._arrived.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the run did not reach batch {sorted(self.hold)} within {timeout:.0f} s; "
                                 f"{self.batches} batches started, status: {self.job.state().status}") from None
        self._held_since = time.perf_counter()
        return batch

    def release(self, held_at_least_s: float = 0.0) -> None:
        """Let the held run go on. ``held_at_least_s`` >= the run's ``event_every_s`` makes the engine
        report the batch that follows as an event (a new point on the loss curve), by its own rule
        "an event when that long has passed since the last one"."""
        left = self._held_since + held_at_least_s - time.perf_counter()
        if left > 0:
            time.sleep(left)
        self._go.put(None)

    def release_pointwise(self, n: int, event_every_s: float) -> None:
        """Hold and release the next ``n`` holds, each long enough that every one adds a point."""
        for _ in range(n):
            self.wait_held()
            self.release(held_at_least_s=event_every_s + 0.05)
