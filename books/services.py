"""Keeping the result of each books check and each drift report, for Finance and for auditors."""

import logging
from dataclasses import asdict

from books.checks import BooksReport, books_verify
from books.drift import DriftReport
from books.models import BooksCheck, DriftCheck

logger = logging.getLogger(__name__)

# Offenders kept per run, in all (every one is counted).
OFFENDERS_KEPT = 200
# Drift exceptions kept per report, in all (every one is counted).
DRIFT_EXCEPTIONS_KEPT = 500


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


def drift_check_record(*, report: DriftReport) -> DriftCheck:
    """Keep a drift report's result. Exceptions that need a person are logged as an error: the
    report records the refunds made at the gateway alone and repairs nothing else."""
    exceptions = report.exceptions
    check = DriftCheck.objects.create(
        since=report.since,
        until=report.until,
        seconds=round(report.seconds, 3),
        counts=report.counts,
        exception_count=len(exceptions),
        needs_person_count=report.needs_person_count,
        exceptions=[asdict(exception) for exception in exceptions[:DRIFT_EXCEPTIONS_KEPT]],
    )
    if report.needs_person_count:
        logger.error(
            "drift check %s: %d of %d exceptions need a person", check.pk, report.needs_person_count, len(exceptions)
        )
    else:
        logger.info(
            "drift check %s: %d exceptions, none for a person (%.1f s)", check.pk, len(exceptions), report.seconds
        )
    return check
