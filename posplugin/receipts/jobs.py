"""One worker thread per printer: jobs print in order, each in one write, and a job that cannot print within its
time-to-live (a receipt 2 min, a drawer kick 12 s) is dropped with a logged reason — a slip must never come out
long after the customer has left. Jobs not yet printed move to the new queue when the printer is reconfigured."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.printer import OFFLINE, PRINTABLE, UNKNOWN, Printer, PrinterError

log = logging.getLogger(__name__)
TTL = {"drawer": 12.0}
DEFAULT_TTL = 120.0
RETRY_INTERVAL = 2.0


@dataclass
class PrintJob:
    id: int
    kind: str
    data: bytes
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    printed: bool = False
    dropped: bool = False
    last_status: str = UNKNOWN


class PrintQueue:
    def __init__(
        self, printer: Printer, clock: Callable[[], float] = time.monotonic, retry_interval: float = RETRY_INTERVAL
    ) -> None:
        self.printer = printer
        self.clock = clock
        self.retry_interval = retry_interval
        self.last_status = UNKNOWN
        self._jobs: queue.Queue[PrintJob | None] = queue.Queue()  # None wakes the worker to stop
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._current: PrintJob | None = None
        # Told (on the printer's thread) when a job has printed or been dropped.
        self.on_finished: Callable[[PrintJob], None] | None = None
        self._thread = threading.Thread(target=self._run, name=f"printer-{printer.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[PrintJob]:
        """Stop the worker and close the printer; returns the jobs not printed yet, oldest first."""
        self._stop.set()
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.printer.close()
        unfinished = [self._current] if self._current is not None and not self._current.done.is_set() else []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and not job.done.is_set():
                unfinished.append(job)
        return unfinished

    def submit(self, kind: str, data: bytes) -> PrintJob:
        job = PrintJob(next(self._ids), kind, data, self.clock() + TTL.get(kind, DEFAULT_TTL))
        self._jobs.put(job)
        return job

    def adopt(self, jobs: list[PrintJob]) -> None:
        """Take over another queue's unprinted jobs (same objects: whoever waits on one keeps waiting)."""
        for job in jobs:
            self._jobs.put(job)

    @property
    def waiting(self) -> int:
        return self._jobs.qsize()

    def refresh_status(self) -> str:
        """Ask the printer now (for health and the settings page); never raises."""
        try:
            self.last_status = self.printer.status()
        except Exception:  # a backend bug must not take health down
            log.exception("printer status query failed")
            self.last_status = UNKNOWN
        return self.last_status

    def _finish(self, job: PrintJob) -> None:
        job.done.set()
        if self.on_finished is not None:
            try:
                self.on_finished(job)
            except Exception:  # a listener's bug must not stop the printer
                log.exception("print job listener failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is not None:
                self._current = job
                self._print(job)
                if job.done.is_set():
                    self._current = None  # else stopped mid-job: ``stop`` hands it on

    def _print(self, job: PrintJob) -> None:
        while not self._stop.is_set():
            if self.clock() > job.deadline:
                job.dropped = True
                log.warning(
                    "dropped %s receipt %d: not printed within its time-to-live (printer %s)",
                    job.kind,
                    job.id,
                    job.last_status,
                )
                self._finish(job)
                return
            job.last_status = self.refresh_status()
            if job.last_status in PRINTABLE:
                try:
                    self.printer.write(job.data)
                except PrinterError as exc:
                    job.last_status = self.last_status = exc.status
                except Exception:  # keep the queue alive whatever the backend does
                    log.exception("printer write failed")
                    job.last_status = self.last_status = OFFLINE
                else:
                    job.printed = True
                    self._finish(job)
                    return
            self._stop.wait(self.retry_interval)
