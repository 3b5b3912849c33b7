"""Progress reporting: a live counter on a terminal, one plain line per step otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    """Count steps of a long task with elapsed time.

    Parameters
    ----------
    label : str
        What is being counted.
    total : int
        Number of steps.
    stream : file, optional
        Defaults to stderr.
    """

    def __init__(self, label: str, total: int, stream=None) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self.t0 = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, note: str = "") -> None:
        """Record one finished step."""
        self.done += 1
        el = time.perf_counter() - self.t0
        msg = f"[{self.label}] {self.done}/{self.total} {el:6.1f}s {note}".rstrip()
        if self.tty:
            end = "\n" if self.done >= self.total else ""
            self.stream.write("\r\x1b[K" + msg + end)
        else:
            self.stream.write(msg + "\n")
        self.stream.flush()


def log(msg: str) -> None:
    """One plain log line on stderr."""
    print(f"[divergence] {msg}", file=sys.stderr, flush=True)
