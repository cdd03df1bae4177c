"""Clean interruption: SIGINT (Ctrl-C) and SIGTERM (a scheduler at walltime) stop a job at once.

Why not Python's default: a signal handler written in Python runs only when the main thread
executes Python code.  A NUTS shard or an NLSQ fit spends minutes inside one compiled XLA
call, so Ctrl-C waited for that call to end (80-110 s measured on the demo), then unwound a
traceback through JAX, and an interpreter shutting down under XLA's running worker threads
could end in ``Fatal Python error: Segmentation fault``.

What :func:`install` does instead: the C-level handler that Python installs for any
Python-level handler writes the signal number to a "wakeup" pipe from whichever thread
receives it (:func:`signal.set_wakeup_fd`), without waiting for the main thread.  A watcher
thread blocked on that pipe then removes the temporary files of writes in progress (those
registered with :func:`removed_if_interrupted`, as every atomic write of :mod:`homodyne.io`
is), logs one line, prints it to stderr, and ends the process with ``os._exit(128 +
signum)``: no interpreter teardown under XLA's threads, no traceback, and no file that
looks finished, since finished files appear only by an atomic rename.  The next run redoes
what is missing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_pending: set[Path] = set()
_guard = threading.Lock()
_installed = False
_finished = False
log = logging.getLogger(__name__)


@contextmanager
def removed_if_interrupted(path: str | os.PathLike) -> Iterator[Path]:
    """Register ``path`` for removal should the process be interrupted inside the block."""
    path = Path(path)
    with _guard:
        _pending.add(path)
    try:
        yield path
    finally:
        with _guard:
            _pending.discard(path)


def _handled_by_watcher(signum, frame) -> None:
    """Python-level handler: the watcher thread acts; installing it enables the C handler."""


def install(program: str = "homodyne") -> None:
    """Make SIGINT and SIGTERM end this process within a second (see the module docstring).

    Call once at the start of a command or job, from the main thread; later calls do nothing.
    """
    global _installed
    if _installed:
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    for signum in SIGNALS:
        signal.signal(signum, _handled_by_watcher)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_fd, program), name="homodyne-signals",
                     daemon=True).start()
    _installed = True


def _watch(read_fd: int, program: str) -> None:
    while True:
        data = os.read(read_fd, 1)
        if not data:
            return
        if data[0] in SIGNALS:
            stop(data[0], program)


def _flush(message: str) -> None:
    """Put the message in the job's log files (stderr gets it from :func:`stop`)."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
            handler.flush()
    sys.stdout.flush()


def finished() -> None:
    """Mark this job's work done: a signal from now on ends the process with status 0.

    Why: Snakemake deletes the outputs of a job that exits non-zero.  A job signalled after
    its last file was renamed into place (its interpreter still shutting down, seconds
    with JAX) has complete outputs, and discarding them made the next run redo a finished
    NUTS shard (issue 21).
    """
    global _finished
    _finished = True


def stop(signum: int, program: str = "homodyne") -> None:
    """Remove unfinished files, say so in one line, and end the process with 128 + signum
    (with 0 once :func:`finished`: nothing is left unfinished)."""
    if _finished:
        os.write(2, (f"{program}: {signal.Signals(signum).name} after the step finished; "
                     "its outputs are complete\n").encode())
        os._exit(0)
    with _guard:
        unfinished = list(_pending)
    for path in unfinished:
        try:
            path.unlink()
        except OSError:
            pass
    name = signal.Signals(signum).name
    message = (f"{program}: interrupted by {name}; stopped. Finished files are kept, "
               "unfinished ones removed: run the same command again to continue.")
    # Logging and stdout take locks the main thread may hold: give them a second at most.
    flusher = threading.Thread(target=_flush, args=(message,), daemon=True)
    flusher.start()
    flusher.join(1.0)
    os.write(2, (message + "\n").encode())
    os._exit(128 + signum)


# ------------------------------------------------------------------- the Snakemake head


def job_processes() -> list:
    """Every live descendant of this process (the local executor's jobs: a shell and the
    script's Python under it), listed before any is signalled."""
    import psutil

    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def forward(signum: int) -> int:
    """Send ``signum`` to every descendant; return how many got it.  Each job's own handler
    (:func:`install`) then removes its unfinished files and ends it within a second."""
    import psutil

    sent = 0
    for proc in job_processes():
        try:
            proc.send_signal(signum)
            sent += 1
        except psutil.Error:  # ended meanwhile
            pass
    return sent


def install_head(stop_scheduling: Callable[[int], None]) -> None:
    """Make SIGINT and SIGTERM sent to the Snakemake process alone stop its running jobs.

    Why: Ctrl-C in a terminal signals the whole process group, so every job stops itself;
    ``kill -INT <pid>`` from a batch script or a scheduler reaches the head only.  Snakemake's
    local executor then waits for the running jobs to end (a NUTS shard: minutes), and on
    SIGINT leaves the loop that records finished jobs, so a job that finished meanwhile was
    redone by the next run (issue 21).  Here both signals are forwarded to the jobs, which
    stop at once with the clean-up of Ctrl-C, and ``stop_scheduling`` (Snakemake's own
    SIGTERM handler: start no job, record the running ones as they end) follows, so a job
    that has written its output keeps it.

    A second signal while the jobs stop falls back to Snakemake's own Ctrl-C (it stops
    waiting for them), for a job that does not stop.

    Call from the head, after Snakemake installed its SIGTERM handler (``onstart``).
    """
    received = []

    def handler(signum, frame):
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        n = forward(signum)
        log.warning("%s: stopping %d job process(es); finished outputs are kept",
                    signal.Signals(signum).name, n)
        stop_scheduling(signum)

    for signum in SIGNALS:
        signal.signal(signum, handler)
