"""`manage.py reconcile_gateway` and the nightly drift job: the drift report run, kept, printed;
non-zero when anything needs a person, and a bad date one line, not a traceback."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from procrastinate.contrib.django import app

from accounts.roles import FINANCE
from books import tasks
from books.management.commands.reconcile_gateway import Command
from books.models import DriftCheck
from refunds.models import Refund
from tests.factories import StaffFactory, stripe_payment
from tests.fakes.stripe import stripe_refund
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)


def yesterday() -> str:
    return f"{timezone.now() - timedelta(days=1):%Y-%m-%d}"


def run(*arguments: str) -> int:
    """The command as the shell runs it (`manage.py reconcile_gateway …`): its exit status."""
    with pytest.raises(SystemExit) as exit:
        Command().run_from_argv(["manage.py", "reconcile_gateway", *arguments])
        raise SystemExit(0)
    return exit.value.code


@pytest.fixture
def drifted(stripe_api):
    """A refund made in Stripe's Dashboard, and one of ours whose amount moved there."""
    refunder = StaffFactory(roles=[FINANCE], passwordless=True)
    payment = stripe_payment()
    moved = refund_request(payment, actor=refunder)
    stripe_api.refunds[moved.gateway_refund_id]["amount"] = 2000
    stripe_api.refunds["re_3Dashboard"] = stripe_refund("re_3Dashboard", payment, status="succeeded", amount=3000)
    return payment, moved


def test_it_prints_each_exception_and_exits_non_zero_when_one_needs_a_person(drifted, capsys):
    payment, moved = drifted

    with pytest.raises(CommandError, match=r"^2 exceptions, 1 for a person: see the exceptions above\.$"):
        call_command("reconcile_gateway", "--since", yesterday())

    adopted = Refund.objects.get(gateway_refund_id="re_3Dashboard")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Refunds made from {yesterday()} 00:00 to ")
    assert lines[1] == "stripe: 2 listed, 1 here, 1 matched, 0 not the portal's, 0 failed at the gateway only"
    assert lines[2:] == [
        f"  amount differs: refund {moved.pk} ({moved.gateway_refund_id}) on payment {payment.pk}: "
        "here $25.00 succeeded, at the gateway $20.00 succeeded",
        f"  at the gateway only: recorded here: refund {adopted.pk} (re_3Dashboard) on payment {payment.pk}: "
        "$30.00 succeeded at the gateway, not here: recorded as made outside the portal (succeeded)",
    ]
    check = DriftCheck.objects.get()
    assert (check.exception_count, check.needs_person_count) == (2, 1)
    assert run("--since", yesterday()) == 1  # again: the amount still differs


def test_it_exits_zero_when_nothing_needs_a_person(drifted, stripe_api, capsys):
    _, moved = drifted
    stripe_api.refunds[moved.gateway_refund_id]["amount"] = 2500

    assert run("--since", yesterday()) == 0
    assert capsys.readouterr().out.endswith("1 exception, 0 for a person.\n")  # the adoption
    assert run("--since", yesterday()) == 0
    assert capsys.readouterr().out.endswith("0 exceptions, 0 for a person.\n")


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--since", "2026-13-01"], "--since '2026-13-01' is not a day written YYYY-MM-DD."),
        (["--since", "01/11/2026"], "--since '01/11/2026' is not a day written YYYY-MM-DD."),
        (["--since", "2026-11-01", "--until", "2026-11-31"], "--until '2026-11-31' is not a day written YYYY-MM-DD."),
        (["--since", "2026-11-01", "--until", "2026-11-01"], "--since 2026-11-01 must come before --until 2026-11-01."),
    ],
)
def test_a_bad_date_is_one_line_and_a_non_zero_exit(arguments, error, capsys):
    assert run(*arguments) == 1
    output = capsys.readouterr()
    assert output.err == f"CommandError: {error}\n"
    assert output.out == ""
    assert not DriftCheck.objects.exists()


def test_the_worker_runs_it_every_night_over_the_last_days(drifted):
    periodic = [p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == "books.gateway_drift"]
    tonight = timezone.now() + timedelta(days=1)  # the refunds above were made "yesterday" for it

    tasks.gateway_drift(timestamp=int(tonight.timestamp()))

    assert [p.cron for p in periodic] == ["15 3 * * *"]
    assert periodic[0].task.queueing_lock == "books_gateway_drift"
    check = DriftCheck.objects.get()
    midnight = datetime.combine(tonight.date(), datetime.min.time(), tzinfo=UTC)
    assert (check.since, check.until) == (midnight - timedelta(days=tasks.DRIFT_DAYS), midnight)
    assert sorted(e["kind"] for e in check.exceptions) == ["adopted", "amount_differs"]
