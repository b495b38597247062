"""The one design for background work (cnnlab.core.background): one task at a time, a Stop the
task sees at its next check, a kick that never loses work arriving during a pass, failures
logged, and async waiters woken by Stop itself. Every wait here is on an event, never a sleep."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

from cnnlab.core.background import Background, Stop

TIMEOUT = 30


def test_one_task_at_a_time_and_stop_ends_it_at_its_next_check():
    work = Background("test-work")
    began = threading.Event()
    checks = []

    def task(stop):
        began.set()
        while not stop.wait(TIMEOUT):            # a piece of work, then a look at Stop
            checks.append(1)
        checks.append("stopped")

    assert work.start(task) and began.wait(TIMEOUT) and work.running
    assert not work.start(task)                  # busy: nothing else starts
    assert work.stop()
    assert work.wait(TIMEOUT) and not work.running
    assert checks == ["stopped"]
    assert not work.stop()                       # nothing runs: nothing to stop


class Passes:
    """A task that keeps each pass's Stop and holds the pass until ``release`` is set."""

    def __init__(self):
        self.release = threading.Event()
        self.stops = []

    def __call__(self, stop):
        self.stops.append(stop)
        self.release.wait(TIMEOUT)


def test_a_kick_during_a_pass_gives_one_more_pass_and_a_stop_drops_it():
    work = Background("test-kick")
    task = Passes()
    release, passes = task.release, task.stops
    work.kick(task)
    for _ in range(3):                           # three kicks while the first pass runs ...
        work.kick(task)
    release.set()
    assert work.wait(TIMEOUT)
    assert len(passes) == 2                      # ... make exactly one more pass
    release.clear()
    work.kick(task)
    work.kick(task)
    work.stop()                                  # Stop drops the asked-for pass ...
    release.set()
    assert work.wait(TIMEOUT) and len(passes) == 3 and passes[-1].is_set()   # ... and ends this one


def test_a_kick_after_a_stop_runs_afresh_with_a_new_stop():
    work = Background("test-again")
    task = Passes()
    release, passes = task.release, task.stops
    work.kick(task)
    work.stop()                                  # the pass is asked to end ...
    work.kick(task)                              # ... and new work arrives before it has
    release.set()
    assert work.wait(TIMEOUT)
    assert len(passes) == 2 and passes[0].is_set() and not passes[1].is_set()


def test_a_failing_task_is_logged_and_the_worker_goes_on(caplog):
    work = Background("test-fail")
    with caplog.at_level(logging.ERROR, logger="cnnlab.core.background"):
        assert work.start(lambda stop: 1 / 0)
        assert work.wait(TIMEOUT)
    assert "test-fail" in caplog.text and "ZeroDivisionError" in caplog.text
    done = threading.Event()
    assert work.start(lambda stop: done.set()) and work.wait(TIMEOUT) and done.is_set()


def test_setup_runs_first_in_the_tasks_thread():
    seen = {}
    work = Background("test-setup", setup=lambda: seen.setdefault("setup", threading.current_thread().name))
    work.start(lambda stop: seen.setdefault("task", threading.current_thread().name))
    assert work.wait(TIMEOUT)
    assert seen == {"setup": "test-setup", "task": "test-setup"}


def test_an_async_waiter_is_woken_by_stop_while_the_work_still_waits():
    """A weather run whose chunk waits behind other students' chunks: Stop from another thread
    ends the wait although the chunk never ran."""
    async def main():
        stop = Stop()
        never = concurrent.futures.Future()      # a chunk still queued on the worker
        waiting = asyncio.ensure_future(stop.until(asyncio.wrap_future(never)))
        await asyncio.sleep(0)                   # the waiter is registered
        threading.Thread(target=stop.set).start()
        result = await asyncio.wait_for(waiting, TIMEOUT)
        return result, never.done()

    assert asyncio.run(main()) == (None, False)


def test_until_gives_the_works_result_or_none_once_stopped():
    async def answer():
        return 42

    async def main():
        stop = Stop()
        first = await stop.until(answer())
        stop.set()
        second = await stop.until(answer())
        return first, second

    assert asyncio.run(main()) == (42, None)
