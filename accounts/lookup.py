"""What the Users search bar jumps to when it is given an id rather than words.

A payment's gateway id (pi_…, ch_…), a refund's (re_…) or the portal's refund reference (RF-000123)
belong to the rooms above accounts, which accounts cannot import (docs/architecture.md): each of
those apps registers a lookup here in its AppConfig.ready(), and the search asks them in turn.
A lookup answers None for text that is not of its shape, a `Jump` otherwise: where to go, or
(url None) that nothing has this id.
"""

from collections.abc import Callable
from dataclasses import dataclass

NO_SUCH_ID = "No payment or refund with this id."


@dataclass(frozen=True)
class Jump:
    url: str | None  # where the record is shown; None: the text is an id, but of nothing here
    message: str = ""  # what to say when there is nowhere to go

    @classmethod
    def missing(cls) -> "Jump":
        return cls(url=None, message=NO_SUCH_ID)


IdLookup = Callable[[str], Jump | None]
_lookups: list[IdLookup] = []


def id_lookup_register(lookup: IdLookup) -> None:
    """Add a lookup (once: registering the same function again changes nothing)."""
    if lookup not in _lookups:
        _lookups.append(lookup)


def id_jump(*, query: str) -> Jump | None:
    """Where an id typed in the search bar leads, or None when the query is not an id."""
    text = query.strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    for lookup in _lookups:
        jump = lookup(text)
        if jump is not None:
            return jump
    return None
