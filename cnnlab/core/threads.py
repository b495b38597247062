"""How training and thirty students' predictions share one laptop's cores.

* Requests get one intra-op thread each: ``set_default_threads(REQUEST_THREADS)`` before the
  server starts its worker threads. One sketch is far too small a job to split across cores, and
  many one-thread requests run side by side instead.
* The training thread calls ``configure_training_thread()`` first thing: it takes every core for
  itself and lowers its own scheduling priority (Linux: ``nice`` +10 for that thread; the OpenMP
  workers it starts inherit it). With nobody drawing it trains at full speed; when a request wakes
  up, the kernel gives it a core at once and training waits a few milliseconds.

``bench/train_during_draw.py`` measures this choice against PyTorch's defaults and the other
policies (its docstring has the figures).

How: PyTorch keeps the thread count in one process-wide variable that each thread copies into
its own OpenMP setting the first time it runs an operator; ``torch.set_num_threads`` sets both the
variable and the calling thread's own setting. So the training thread sets its own count and a
short helper thread puts the variable back (``set_default_threads``), which leaves every other
thread's count alone. Where per-thread priorities do not exist (macOS, Windows) "nice" falls back
to "fewer".
"""
from __future__ import annotations

import os
import sys
import threading

import torch

THREAD_POLICIES = ("nice", "fewer", "share")
REQUEST_THREADS = 1         # intra-op threads for every other thread (students' requests)
TRAIN_NICE = 10             # how much the training thread steps back for the students' requests


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_default_threads(n: int) -> None:
    """The intra-op thread count that threads created from now on start with, leaving the
    calling thread's own count as it is (see the module docstring)."""
    torch.get_num_threads()                  # the caller takes its own count now, if it had none
    helper = threading.Thread(target=torch.set_num_threads, args=(max(1, int(n)),), name="cnnlab-threads")
    helper.start()
    helper.join()


def configure_training_thread(policy: str = "nice") -> int:
    """Call first thing in the training thread: sets this thread's torch threads and priority,
    leaves the default for other threads as it was. Returns this thread's intra-op thread count.

    "nice":  all cores, lower priority (Linux per-thread nice); elsewhere as "fewer".
    "fewer": one core fewer than the machine has (at least one), normal priority.
    "share": all cores, normal priority (training and requests compete as equals).
    """
    if policy not in THREAD_POLICIES:
        raise ValueError(f"thread policy must be one of {', '.join(THREAD_POLICIES)}, not {policy!r}")
    default = torch.get_num_threads()        # a new thread starts with the process default
    fewer = policy == "fewer" or (policy == "nice" and not lower_thread_priority(TRAIN_NICE))
    n = max(1, cpu_cores() - 1) if fewer else cpu_cores()
    torch.set_num_threads(n)
    set_default_threads(default)
    return n


def lower_thread_priority(nice: int) -> bool:
    """Linux only: a thread is a task with its own nice value, and threads it creates (PyTorch's
    OpenMP workers) inherit it. Elsewhere the same call would name a whole process."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        return True
    except (OSError, AttributeError):
        return False
