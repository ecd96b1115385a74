"""The worker processes that run simulated days side by side (``--replications``,
``--compare``, ``staffing``): each ends with the process that made it.

A command stopped by SIGTERM or SIGKILL alone (a supervisor's stop, a ``kill`` of
its PID) ends without shutting its pool down; its workers, re-parented to init,
ran their day to the end at full CPU and then waited on a pipe for ever. Linux's
parent-death signal (``prctl(PR_SET_PDEATHSIG)``) ends them with it. Elsewhere
(no ``prctl``) the workers are as before; Ctrl-C ends the whole group anyway.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def pool(workers: int) -> ProcessPoolExecutor:
    """Forked from this process (named: Python 3.14 forks from a forkserver by default,
    whose death, not this process's, the signal would follow). Made from the main
    thread: the signal follows the thread that forked the worker."""
    context = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=in_a_worker, initargs=(os.getpid(),))


# True in a pool's worker (``pool``): a day there has its own CPU, and starts no helper
# process of its own (``ahead``). A pool's workers are not daemons (Python 3.11).
IN_A_WORKER = False


def in_a_worker(parent: int) -> None:
    """A pool's worker's start: it says so, and ends with the process that made it."""
    global IN_A_WORKER
    IN_A_WORKER = True
    end_with(parent)


def end_with(parent: int) -> None:
    """In a worker (a pool's, or ``ahead``'s), first: SIGTERM when the process that made it ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        return
    if os.getppid() != parent:  # the parent ended before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)
