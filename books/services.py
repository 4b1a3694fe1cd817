"""Keeping the result of each books check, for Finance and for auditors."""

import logging

from books.checks import BooksReport, books_verify
from books.models import BooksCheck

logger = logging.getLogger(__name__)

# Offenders kept per run, in all (every one is counted).
OFFENDERS_KEPT = 200


def books_check_record(*, report: BooksReport | None = None) -> BooksCheck:
    """Run the books check (or take `report`) and keep its result. A failing check is logged as an
    error: it needs a person, never an automatic repair."""
    report = report or books_verify(show=OFFENDERS_KEPT)
    check = BooksCheck.objects.create(
        seconds=round(report.seconds, 3),
        counts=report.counts,
        rules={result.rule: result.offender_count for result in report.results},
        offender_count=report.offender_count,
        offenders=[vars(offender) for offender in report.offenders[:OFFENDERS_KEPT]],
    )
    if report.offender_count:
        rules = ", ".join(f"{r.rule}: {r.offender_count}" for r in report.results if r.offender_count)
        logger.error("books check %s: %d offenders (%s)", check.pk, report.offender_count, rules)
    else:
        logger.info("books check %s: every rule holds (%.1f s)", check.pk, report.seconds)
    return check
