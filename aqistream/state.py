"""What has been published, what waits to be, and so which readings are new (pure).

"Published" means committed in a Kafka transaction. It is rebuilt from the compacted
`<topic>.latest` topic, never from a local file, so a restarted or replacement producer
knows exactly what its predecessor committed. Readings fetched while Kafka is unreachable,
or whose transaction failed, wait here until a later transaction commits them.
"""

from __future__ import annotations


class PublishState:
    def __init__(self) -> None:
        # station idx -> observed_at of the last committed reading; None until known.
        self.committed: dict[int, str] | None = None
        # station idx -> readings newer than the committed one, oldest first.
        self.pending: dict[int, list[dict]] = {}

    @property
    def known(self) -> bool:
        """Whether the committed state has been read from Kafka yet."""
        return self.committed is not None

    def restore(self, committed: dict[int, str]) -> None:
        """Take the committed state read from Kafka; drop waiting readings it already holds."""
        self.committed = dict(committed)
        self.drop_committed()

    def drop_committed(self) -> None:
        for idx in list(self.pending):
            last = self.committed.get(idx, "")
            newer = [record for record in self.pending[idx] if record["observed_at"] > last]
            if newer:
                self.pending[idx] = newer
            else:
                del self.pending[idx]

    def last_observed(self, idx: int) -> str:
        if self.pending.get(idx):
            return self.pending[idx][-1]["observed_at"]
        return (self.committed or {}).get(idx, "")

    def is_new(self, record: dict) -> bool:
        """Whether the reading is newer than anything published or queued for its station.

        observed_at is always YYYY-MM-DDTHH:MM:SSZ in UTC, so string order is time order.
        """
        return record["observed_at"] > self.last_observed(record["station"]["idx"])

    def offer(self, record: dict) -> bool:
        """Queue the reading if it is new; whether it was."""
        if not self.is_new(record):
            return False
        self.pending.setdefault(record["station"]["idx"], []).append(record)
        return True

    def batch(self) -> list[dict]:
        """Every waiting reading, each station's in observation order."""
        return [record for records in self.pending.values() for record in records]

    def committed_batch(self, records: list[dict]) -> None:
        """The transaction holding `records` committed: they are now published."""
        assert self.committed is not None, "commit before the state was read"
        for record in records:
            idx = record["station"]["idx"]
            self.committed[idx] = max(self.committed.get(idx, ""), record["observed_at"])
        self.drop_committed()

    @property
    def waiting(self) -> int:
        return sum(len(records) for records in self.pending.values())
