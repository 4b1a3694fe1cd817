"""Phone numbers never reach the logs in full (statstak.log_masking, wired into LOGGING)."""

import io
import logging
import sys

import pytest

from core.log_masking import PhoneNumberMaskingFilter, mask_phone, mask_phones_in


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+12025550143", "+1202•••0143"), ("+447911123456", "+4479•••3456"), ("+4930123", "•••23"), ("", "")],
)
def test_a_number_keeps_only_enough_to_tell_it_apart(number, masked):
    assert mask_phone(number) == masked


def test_every_number_in_a_text_is_masked_and_nothing_else():
    text = "The 'To' number +15005550001 is not valid (order 123456789012, +1 202 or +12025550143)."
    assert (
        mask_phones_in(text)
        == "The 'To' number +1500•••0001 is not valid (order 123456789012, +1 202 or +1202•••0143)."
    )


def test_the_filter_masks_messages_arguments_and_exceptions():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sent to %s", ("+12025550143",), None)
    try:
        raise ValueError("bad number +12025550143")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert PhoneNumberMaskingFilter().filter(record) is True
    assert record.getMessage() == "sent to +1202•••0143"
    assert "+1202•••0143" in record.exc_text
    assert "+12025550143" not in record.exc_text


def test_the_portals_log_handler_masks_any_loggers_numbers():
    [handler] = [
        h for h in logging.getLogger().handlers if any(isinstance(f, PhoneNumberMaskingFilter) for f in h.filters)
    ]
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        logging.getLogger("procrastinate.somewhere").warning("job for +12025550143 failed")
    finally:
        handler.setStream(previous)
    assert "job for +1202•••0143 failed" in out.getvalue()
    assert "+12025550143" not in out.getvalue()
