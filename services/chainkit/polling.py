"""Fallback polls of the kit's background loops (outbox relay, timer loop, the
Europaloket's claim loop): work announced in the process wakes them at once; the poll
only finds what another process or instance committed."""

from __future__ import annotations


class IdlePoll:
    """A fallback poll that stretches while it finds nothing: `shortest` after a poll
    that found work, doubling with every empty one up to `longest`. A wake-up of an idle
    process costs more CPU than the little it does; work announced in the process (a
    commit) does not wait for the poll."""

    def __init__(self, shortest: float, longest: float = 5.0) -> None:
        self.shortest = shortest
        self.longest = max(shortest, longest)
        self.seconds = shortest

    def found(self, anything: bool) -> None:
        self.seconds = self.shortest if anything else min(self.seconds * 2, self.longest)
