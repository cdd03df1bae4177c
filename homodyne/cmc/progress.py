"""Progress lines of a running NUTS program: warmup and sampling fractions, draws per second
and the time left, every 10 % of the work or every 30 s, whichever comes first.

The sampler (:mod:`homodyne.cmc.sample`) is one compiled program that runs every chain of a
shard; it calls :meth:`Progress.update` from inside its loops (``jax.debug.callback`` every
:func:`report_every` iterations), so a shard that samples for an hour still says how far it
is.  Callbacks come from the threads of the devices that run the chains, hence the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Callbacks per chain over a whole run, one per 10 % of its iterations: a callback costs
#: about a millisecond of the device's time (the host thread wakes and takes the GIL), so
#: more would be felt on small shards (measured in benchmarks/README.md, "NUTS progress").
CALLBACKS_PER_CHAIN = 10


def report_every(iterations: int) -> int:
    """Iterations between two progress callbacks of a chain that runs ``iterations``."""
    return max(1, -(-iterations // CALLBACKS_PER_CHAIN))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Iterations done per chain of one NUTS run, logged as one line at each 10 % of the
    run's iterations (warmup and sampling of all chains) and at least every ``interval``
    seconds while callbacks arrive.

    Args:
        label: what runs, e.g. ``"shard 3"``; heads every line.
        chains, warmup, samples: the run's size.
        interval: longest time between two lines, in seconds.
        clock: seconds since an arbitrary origin (tests pass a fake clock).
    """

    def __init__(self, label: str, chains: int, warmup: int, samples: int, *,
                 interval: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.warmup, self.samples = warmup, samples
        self.done = [0] * chains
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self.start()

    def start(self) -> None:
        """Count time from now (call it when the compiled program starts running)."""
        with self._lock:
            self.began = self.last = self.clock()
            self.next_step = 1

    @property
    def total(self) -> int:
        return len(self.done) * (self.warmup + self.samples)

    def update(self, chain, iterations) -> None:
        """Chain ``chain`` has run ``iterations`` iterations (warmup first, then sampling)."""
        with self._lock:
            self.done[int(chain)] = int(iterations)
            now = self.clock()
            fraction = sum(self.done) / self.total
            step = int(fraction * 10 + 1e-9)
            due = now - self.last >= self.interval
            if not (step >= self.next_step or due) or fraction >= 1.0:
                return
            self.next_step = max(self.next_step, step + 1)
            self.last = now
            line = self.line(now)
        log.info("%s", line)

    def line(self, now: float) -> str:
        """``<label>: NUTS 40% (warmup 80%, sampling 0%), 4 chains, 120 draws/s, ETA 9 s``."""
        chains = len(self.done)
        warm = sum(min(d, self.warmup) for d in self.done) / max(1, chains * self.warmup)
        draws = sum(max(0, d - self.warmup) for d in self.done) / max(1, chains * self.samples)
        done = sum(self.done)
        elapsed = max(now - self.began, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        speed = f"{rate:.0f}" if rate >= 10 else f"{rate:.2g}"
        return (f"{self.label}: NUTS {done / self.total:.0%} (warmup {warm:.0%}, sampling "
                f"{draws:.0%}), {chains} chain(s), {speed} draws/s, "
                f"ETA {_duration(eta) if eta != float('inf') else '?'}")
