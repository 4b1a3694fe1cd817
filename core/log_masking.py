"""Keeping customers' phone numbers and message texts out of the logs.

`mask_phone` is what code uses when it names a recipient in a log line; the logging filter is the
safety net for every other logger (the task queue, the SDKs, exception messages), so that a number
never reaches a log in full whoever printed it. Message bodies are never logged: log their length.
"""

import logging
import re

# E.164: a plus and 8 to 15 digits, not inside a longer run of digits.
_E164 = re.compile(r"(?<![\w+])\+\d{8,15}(?!\d)")
MASK = "•••"


def mask_phone(number: object) -> str:
    """+12025550143 -> +1202•••0143: enough to tell numbers apart, not enough to call one."""
    text = str(number or "")
    if not text:
        return ""
    if len(text) < 9:
        return MASK + text[-2:]
    return f"{text[:5]}{MASK}{text[-4:]}"


def mask_phones_in(text: str) -> str:
    """Every E.164 number in `text`, masked."""
    return _E164.sub(lambda match: mask_phone(match.group(0)), text)


class PhoneNumberMaskingFilter(logging.Filter):
    """Masks E.164 numbers in a record's message and in its formatted exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones_in(record.exc_text)
        return True
