"""The storing consumer's progress lines: what it has stored, how fast, how far behind.

Pure: the sink hands in counts, positions and the clock's readings; this decides whether a
line is due and words it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROGRESS_SECONDS = 5.0


@dataclass
class Progress:
    noun: str  # "readings"
    started: float  # the clock when the run started
    stored: int = 0  # rows new to the database, this run
    already: int = 0  # rows the database had already (its primary key kept them out)
    rejected: int = 0
    stations: set[int] = field(default_factory=set)
    last_line: float | None = None
    stored_at_last_line: int = 0
    # From the first message read to the last batch written: the rate of the summary,
    # without the start-up and the idle time before an --idle-timeout.
    busy_since: float | None = None
    busy_until: float | None = None

    def working(self, now: float) -> None:
        """A message was read (the first one starts the busy time)."""
        if self.busy_since is None:
            self.busy_since = now

    def wrote(self, now: float) -> None:
        self.busy_until = now

    def due(self, now: float) -> bool:
        """A line every PROGRESS_SECONDS at most, and only when something new was stored."""
        if self.stored == self.stored_at_last_line:
            return False
        return self.last_line is None or now - self.last_line >= PROGRESS_SECONDS

    def line(self, now: float, behind: int | None, backlog_read: float | None) -> str:
        """behind: messages between this run's positions and the topic's end (None: not
        known yet); backlog_read: the share of what was there at the start, read so far."""
        since = self.last_line if self.last_line is not None else self.started
        rate = (self.stored - self.stored_at_last_line) / max(now - since, 1e-6)
        self.last_line, self.stored_at_last_line = now, self.stored
        text = (
            f"stored {self.stored:,} {self.noun} of {len(self.stations):,} stations ({rate:,.0f}/s)"
        )
        if behind is None:
            return text
        if behind <= 0:
            return text + ", up to date"
        text += f", {behind:,} behind the end of the topic"
        if backlog_read is not None:
            text += f" ({backlog_read:.0%} of the backlog read)"
        return text

    def summary(self, now: float) -> str:
        text = f"{self.stored:,} {self.noun} of {len(self.stations):,} stations stored"
        if self.busy_since is not None and self.busy_until is not None:
            busy = max(self.busy_until - self.busy_since, 1e-3)
            text += f" in {busy:.1f} s ({self.stored / busy:,.0f}/s)"
        return (
            f"{text}; {self.already:,} already stored, {self.rejected:,} rejected; "
            f"{now - self.started:.1f} s in all"
        )


def backlog_share(starts: dict[int, int], positions: dict[int, int], ends: dict[int, int]):
    """The share of the messages that were between `starts` and `ends` read up to
    `positions`; None when there were none."""
    total = sum(max(ends[p] - starts[p], 0) for p in ends if p in starts)
    if total <= 0:
        return None
    read = sum(
        min(max(positions.get(p, starts[p]) - starts[p], 0), max(ends[p] - starts[p], 0))
        for p in ends
        if p in starts
    )
    return read / total
