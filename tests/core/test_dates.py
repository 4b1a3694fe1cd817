"""Times formatted in Python read exactly as the `date` filter prints them, in any time zone."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from core.dates import MINUTES, SECONDS, time_texts, times_formatted
from core.money import money_format

FILTERS = Template("{{ at|date:'c' }}|{{ at|date:format }}|{{ at|date:'Y-m-d' }}")

TIMES = [
    datetime(2025, 1, 5, 0, 0, 0, tzinfo=UTC),
    datetime(2025, 3, 30, 0, 59, 59, 999999, tzinfo=UTC),  # Europe's spring change
    datetime(2025, 5, 31, 23, 7, 1, 123, tzinfo=UTC),
    datetime(2025, 11, 2, 6, 30, tzinfo=UTC),  # America's autumn change (an ambiguous hour)
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Budapest", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("format", [MINUTES, SECONDS])
def test_the_texts_are_the_date_filters_own(zone, format):
    with timezone.override(zone):
        for at in TIMES + [at + timedelta(minutes=37 * n) for at in TIMES for n in range(1, 4)]:
            texts = time_texts(at, format)
            expected = FILTERS.render(Context({"at": at, "format": format}))
            assert f"{texts.iso}|{texts.text}|{texts.day}" == expected


def test_each_row_gets_its_times_texts_beside_its_time():
    class Row:
        created_at = TIMES[0]

    rows = [Row(), Row()]
    times_formatted(rows)
    assert [row.created_at_texts.text for row in rows] == ["Jan 5, 2025 00:00 UTC"] * 2


def test_money_formatted_again_reads_the_same():
    # Kept after the first call (core.money.money_format): the same arguments, the same text.
    assert [money_format(100000, "HUF") for _ in range(2)] == ["HUF\u00a01,000"] * 2
    assert money_format(-1900, "USD") == "-$19.00"
    assert money_format(100050, "HUF", plain_spaces=True) == "HUF 1,000.50"
