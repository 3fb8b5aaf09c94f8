"""The requests in flight: worker threads that take requests as the scheduler hands them out.

The cadence-aware loop never waits for a whole sweep: it hands out what is due, takes each
answer as it arrives (a map answer may make feeds due at once) and hands out more. Up to
`workers` requests run at a time, over the client's pool of keep-alive connections; the
client's rate limiter keeps all of them within the quota.

Daemon threads, not an executor: a request hanging at shutdown must not hold the exit.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aqistream.source.scheduler import MAP, Request
from aqistream.source.waqi import WaqiClient, WaqiError


@dataclass
class Answer:
    request: Request
    data: object = None  # a feed's `data`, or a map answer's list of items
    error: WaqiError | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Fetcher:
    def __init__(self, client: WaqiClient, workers: int, stop: threading.Event) -> None:
        self.client = client
        self.workers = workers
        self.stop = stop
        self._todo: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        self.outstanding = 0  # handed out and not yet answered (read by the loop only)
        self._threads: list[threading.Thread] = []

    def submit(self, request: Request) -> None:
        if len(self._threads) < min(self.workers, self.outstanding + 1):
            thread = threading.Thread(target=self._work, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.outstanding += 1
        self._todo.put(request)

    def answers(self, timeout: float) -> list[Answer]:
        """What has arrived, waiting up to `timeout` seconds for a first answer."""
        arrived: list[Answer] = []
        try:
            arrived.append(
                self._done.get(timeout=timeout) if timeout > 0 else self._done.get_nowait()
            )
            while True:
                arrived.append(self._done.get_nowait())
        except queue.Empty:
            pass
        self.outstanding -= len(arrived)
        return arrived

    def close(self) -> None:
        """Let the worker threads end once they are idle (a request in flight finishes)."""
        for _ in self._threads:
            self._todo.put(None)
        self._threads = []

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                request = self._todo.get(timeout=0.5)
            except queue.Empty:
                continue
            if request is None:
                return
            try:
                if request.kind == MAP:
                    data = self.client.fetch_map(request.tile.box)
                else:
                    data = self.client.fetch_feed(request.feed_path)
                self._done.put(Answer(request, data=data))
            except WaqiError as error:
                self._done.put(Answer(request, error=error))
            except Exception as error:  # a bug must not kill the worker silently
                self._done.put(Answer(request, error=WaqiError(f"unexpected error: {error!r}")))
