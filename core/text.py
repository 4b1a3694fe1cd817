"""Text that came from outside (headers, webhooks), made safe to store and to show."""

import re

# C0 controls (NUL among them: PostgreSQL refuses it in text), DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WHITESPACE_CONTROL = re.compile(r"[\t\n]")


def text_clean(value: object, *, max_length: int) -> str:
    """`value` as one line of printable text: control characters dropped (tabs and newlines become
    spaces), at most `max_length` characters. Never raises: whatever a client sends is stored."""
    text = value if isinstance(value, str) else str(value or "")
    text = _WHITESPACE_CONTROL.sub(" ", _CONTROL.sub("", text))
    return text[:max_length]
