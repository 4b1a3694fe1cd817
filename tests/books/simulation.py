"""A seeded, randomized simulation of the money system, checked after every step.

Each run makes a few customers with Stripe payments and takes random steps on the real services
and real PostgreSQL, with the fake Stripe (a local server, through the real SDK) steered by the
run's random numbers:

- credit edits, fresh and stale;
- refunds of every type, reason and amount (more than remains too), with Stripe answering
  succeeded, pending, requires_action, declined, already refunded, a 500 that it replays for the
  key (having made the refund or not), or making the refund and answering too late (the portal's
  read timeout; a request with the key meanwhile meets a 409);
- double submits of one form;
- crashes at the phase boundaries: the process dies after the reservation (before the gateway is
  asked), or after the gateway answered and before the answer is recorded;
- approvals and rejections of large refunds;
- Stripe's webhooks: pending refunds settling, a succeeded refund failing at the bank (reversal),
  refunds made in Stripe's Dashboard, every event sometimes delivered twice;
- reconciliation runs, some a day later (Stripe's idempotency keys expired: refunds Stripe never
  made are released, never sent again with a new key);
- text messages sent through the fake Twilio, answering ok, 500, an invalid number or too late,
  taking the message and losing its answer (read timeout, reset), a worker dying in the middle
  of a send, and the stalled-message job recovering what dead workers left.

After every step every rule of the books holds (`books.checks`), no refund is both lost and
charged (a refund Stripe holds as succeeded is never failed, canceled or rejected in the
portal), no message's status ever moves backwards, and Twilio never holds two texts of one message.

A run is replayed exactly from its seed (`make simulate SEED=…`).
"""

import contextlib
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from unittest import mock

from django.db import connection
from django.db.models import F

from accounts.models import User
from accounts.roles import FINANCE
from books.checks import books_verify
from notifications import sending
from notifications.models import SmsMessage
from notifications.services import STATUS_RANK
from notifications.sms import SmsTemporaryError
from payments.models import Dispute, Payment
from payments.services import CreditsConflict, CreditsRefused, credits_adjust
from refunds.models import Refund
from refunds.services import (
    RefundRefused,
    refund_approve,
    refund_execute,
    refund_reject,
    refunds_reconcile,
    stripe_event_process,
)
from refunds.services import request as refund_request
from refunds.services.reconcile import RELEASED_REASON
from tests.factories import CustomerFactory, PaymentFactory, StaffFactory, purchase_record
from tests.fakes.stripe import FakeStripe, stripe_event, stripe_refund
from tests.fakes.stripe_events import dispute_event, stripe_dispute
from tests.fakes.twilio import FakeTwilio, accept_then_error, accept_then_hang, accept_then_reset, error, hang

FAULTS = [
    "",
    "",
    "",
    "",
    "pending",
    "requires_action",
    "card_declined",
    "already_refunded",
    "500",
    "500_refunded",
    "hold",
]
SMS_FATES = [
    *("ok", "ok", "500", "invalid number", "too late"),
    *("taken, answer lost", "taken, reset", "taken, 500", "worker dies", "worker dies after sending"),
]


class Crash(Exception):
    """The process died here: nothing after this point of the step ran."""


class InvariantBroken(AssertionError):
    pass


class WorkerDied(BaseException):
    """The worker process died mid-send: not an Exception, so no handler of the send job runs."""


def world_reset(stripe: FakeStripe, twilio: FakeTwilio | None = None) -> None:
    """Empty books and an empty Stripe before each run (staff stay): runs are independent, a seed
    replays its run exactly, and a step costs the same however many runs came before."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE refunds_refund, payments_ledgerentry, payments_payment, payments_creditchangerequest,"
            " payments_gatewayevent, payments_dispute, notifications_smsmessage, audit_auditevent, procrastinate_jobs"
            " CASCADE"
        )
    User.objects.filter(is_staff=False).delete()
    stripe.refunds.clear()
    stripe.kept.clear()
    stripe.payments.clear()
    stripe.faults.clear()
    if twilio is not None:
        twilio.clear()


def simulation_staff() -> list[User]:
    return [StaffFactory(roles=[FINANCE]) for _ in range(2)]


@dataclass
class Run:
    seed: int
    stripe: FakeStripe
    steps: int
    staff: list[User] = field(default_factory=simulation_staff)
    twilio: FakeTwilio | None = None
    statuses: dict[int, str] = field(default_factory=dict)
    rng: random.Random = field(init=False)
    done: Counter = field(default_factory=Counter)
    sent_events: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.customers = [CustomerFactory(phone="+12025550143") for _ in range(2)]
        self.payments = []
        for customer in self.customers:
            for _ in range(3):
                amount = self.rng.choice([999, 5000, 10000])
                gateway_id = f"pi_3Sim{uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]}"
                payment = PaymentFactory(
                    user=customer, gateway="stripe", gateway_id=gateway_id, amount=amount, credits_bought=amount // 20
                )
                purchase_record(payment)
                # Stripe knows the payment: it refuses a refund of more than remains on it.
                self.stripe.payment(gateway_id, currency=payment.currency, amount=amount)
                self.payments.append(payment)

    # Steps.

    def credits_edit(self) -> str:
        customer = User.objects.get(pk=self.rng.choice(self.customers).pk)
        seen = customer.credits if self.rng.random() < 0.8 else max(customer.credits - 1, 0)
        new_balance = max(seen + self.rng.randint(-60, 60), 0)
        credits_adjust(user=customer, new_balance=new_balance, expected_balance=seen, actor=self.rng.choice(self.staff))
        return "credits"

    def refund(self, crash: str = "") -> str:
        payment = Payment.objects.get(pk=self.rng.choice(self.payments).pk)
        remaining = payment.amount - payment.amount_refunded
        if crash and remaining > 1:
            # A crash only tells something where the request goes on to the gateway: a card refund
            # that is neither refused nor held for approval.
            return self._crash_refund(payment, crash)
        fault = self.rng.choice(FAULTS)
        self.stripe.refund_status = fault if fault in ("pending", "requires_action") else "succeeded"
        self.stripe.faults = [fault] if fault not in ("", "pending", "requires_action") else []
        arguments = dict(
            payment=payment,
            type=self.rng.choice(list(Refund.Type)),
            amount=self.rng.randint(1, max(int(remaining * 1.3), 2)),
            reason=self.rng.choice(list(Refund.Reason)),
            note="simulated",
            actor=self.rng.choice(self.staff),
            idempotency_key=uuid.UUID(int=self.rng.getrandbits(128)).hex,
            credits_to_remove=self.rng.choice([0, 10, 10**6]),
            notify_customer=self.rng.random() < 0.8,
        )
        try:
            with self._crash_at(crash):
                first = refund_execute(**arguments)
        except Crash:
            return f"crash {crash}"
        if self.rng.random() < 0.15:  # the same form sent again: the same refund, never a second
            again = refund_execute(**arguments)
            if again.pk != first.pk:
                raise InvariantBroken(f"one form made two refunds: {first.pk} and {again.pk}")
        return f"refund ({fault or 'ok'})"

    def _crash_refund(self, payment: Payment, crash: str) -> str:
        reserved = sum(
            Refund.objects.filter(payment=payment, status__in=Refund.RESERVING).values_list("amount", flat=True)
        )
        most = min(payment.amount - reserved, 4000)  # under the approval threshold
        if most < 1:
            return "nothing left to refund"
        arguments = dict(
            payment=payment,
            type=Refund.Type.PARTIAL,
            amount=self.rng.randint(1, most),
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            note="",
            actor=self.rng.choice(self.staff),
            idempotency_key=uuid.UUID(int=self.rng.getrandbits(128)).hex,
        )
        try:
            with self._crash_at(crash):
                refund_execute(**arguments)
        except Crash:
            return f"crash {crash}"
        return "refund"

    def _crash_at(self, crash: str):
        if crash == "after reservation":
            return mock.patch.object(refund_request, "gateway_ask", side_effect=Crash)
        if crash == "before recording":
            return mock.patch.object(refund_request, "refund_record_answer", side_effect=Crash)
        return contextlib.nullcontext()

    def decide(self) -> str:
        waiting = list(Refund.objects.filter(status=Refund.Status.AWAITING_APPROVAL).order_by("pk"))
        if not waiting:
            return "nothing to decide"
        refund = self.rng.choice(waiting)
        deciders = [member for member in self.staff if member.pk != refund.requested_by_id]
        if self.rng.random() < 0.7:
            self.stripe.faults = [self.rng.choice(["", "", "500", "500_refunded", "card_declined"])]
            self.stripe.faults = [fault for fault in self.stripe.faults if fault]
            refund_approve(refund=refund, approver=self.rng.choice(deciders))
            return "approve"
        refund_reject(refund=refund, approver=self.rng.choice(deciders), reason="simulated")
        return "reject"

    def webhook(self) -> str:
        at_stripe = sorted(self.stripe.refunds)
        choice = self.rng.random()
        if at_stripe and choice < 0.5:
            refund_object = self.stripe.refunds[self.rng.choice(at_stripe)]
            if refund_object["status"] in ("pending", "requires_action"):
                refund_object["status"] = self.rng.choice(["succeeded", "succeeded", "failed", "canceled"])
            elif refund_object["status"] == "succeeded" and self.rng.random() < 0.3:
                refund_object["status"] = "failed"  # the bank sent it back
                refund_object["failure_reason"] = "expired_or_canceled_card"
            event = stripe_event(f"refund.{'failed' if refund_object['status'] == 'failed' else 'updated'}",
                                 dict(refund_object))  # fmt: skip
        elif choice < 0.75:
            event = self._dashboard_refund()
            if event is None:
                return "nothing to refund in the Dashboard"
        elif self.sent_events:
            event = self.rng.choice(self.sent_events)  # Stripe delivers an event again
        else:
            return "no event yet"
        self.sent_events.append(event)
        stripe_event_process(event=event)
        if self.rng.random() < 0.2:
            stripe_event_process(event=event)
        return "webhook"

    def dispute(self) -> str:
        """The customer's bank disputing a payment: opened, under review, then won or lost, each
        news sent as Stripe sends it (sometimes twice, and replayed later by `webhook`)."""
        # Mostly news of a dispute already open, so that runs see disputes won and lost.
        disputed = list(
            Dispute.objects.filter(status__in=Dispute.OPEN).order_by("pk").values_list("payment", flat=True)
        )
        chosen = (
            self.rng.choice(disputed) if disputed and self.rng.random() < 0.7 else self.rng.choice(self.payments).pk
        )
        payment = Payment.objects.get(pk=chosen)
        dispute_id = f"du_3Sim{payment.gateway_id[-12:]}"
        now = Dispute.objects.filter(gateway_dispute_id=dispute_id).values_list("status", flat=True).first()
        news = {
            None: ("charge.dispute.created", "needs_response"),
            "needs_response": ("charge.dispute.updated", "under_review"),
            "under_review": ("charge.dispute.closed", self.rng.choice(["won", "lost"])),
        }
        if now not in news:
            return "dispute closed already"
        event_type, status = news[now]
        event = dispute_event(event_type, stripe_dispute(dispute_id, payment, status=status))
        self.sent_events.append(event)
        stripe_event_process(event=event)
        if self.rng.random() < 0.2:
            stripe_event_process(event=event)
        return "dispute"

    def _dashboard_refund(self) -> dict | None:
        """A refund made in Stripe's Dashboard, within what remains of the payment at Stripe."""
        payment = Payment.objects.get(pk=self.rng.choice(self.payments).pk)
        reserved = sum(
            Refund.objects.filter(payment=payment, status__in=Refund.RESERVING).values_list("amount", flat=True)
        )
        remaining = payment.amount - reserved
        if remaining <= 0:
            return None
        refund_id = f"re_3Dash{uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]}"
        refund_object = stripe_refund(refund_id, payment, status="succeeded", amount=self.rng.randint(1, remaining))
        self.stripe.refunds[refund_id] = refund_object
        return stripe_event("refund.created", dict(refund_object))

    def sms_send(self) -> str:
        if self.twilio is not None and self.rng.random() < 0.15:
            # The stalled-message job: what dead workers left `sending` is looked up next.
            sending.sms_stalled_recover(resend=lambda message_id: None, older_than=timedelta(0))
            return "sms stalled recovered"
        waiting = SmsMessage.objects.filter(status__in=["queued", "unconfirmed"]).order_by("pk")
        queued = list(waiting.values_list("pk", flat=True)[:10])
        if self.twilio is None or not queued:
            return "no message to send"
        message_id = self.rng.choice(queued)
        fate = self.rng.choice(SMS_FATES)
        answers = {
            "500": error(500),
            "invalid number": error(400, 21211, "Invalid 'To' number"),
            "too late": hang(0.4),
            "taken, answer lost": accept_then_hang(0.4),
            "taken, reset": accept_then_reset(),
            "taken, 500": accept_then_error(500),
        }
        if fate in answers:
            self.twilio.will_answer(answers[fate])
        try:
            if fate.startswith("worker dies"):
                dying = _DyingBackend(sending.sms.sms_backend(), after_sending=fate == "worker dies after sending")
                with mock.patch.object(sending.sms, "sms_backend", return_value=dying):
                    sending.sms_send(message_id=message_id)
            else:
                sending.sms_send(message_id=message_id)
        except SmsTemporaryError:
            pass  # back to queued or unconfirmed: the queue's retry tries again later
        except WorkerDied:
            return "worker died mid-send"
        finally:
            self.twilio._answers.clear()
        return "sms"

    def reconcile(self) -> str:
        self.stripe.faults = [self.rng.choice(["", "", "", "500"])]
        self.stripe.faults = [fault for fault in self.stripe.faults if fault]
        if self.rng.random() < 0.2:
            self._a_day_passes()
            results = refunds_reconcile(older_than=timedelta(0))
            self.done["refund released a day later"] += sum(result.note == RELEASED_REASON for result in results)
            return "reconcile a day later"
        refunds_reconcile(older_than=timedelta(0))
        return "reconcile"

    def _a_day_passes(self) -> None:
        """A day and an hour pass for the refunds and for Stripe: idempotency keys expire, and a
        refund Stripe never made is released by the next reconciliation (never sent again)."""
        passed = timedelta(hours=25)
        Refund.objects.update(
            created_at=F("created_at") - passed,
            decided_at=F("decided_at") - passed,  # null stays null
        )
        self.stripe.clock_advance(hours=25)

    # The run.

    def step(self) -> str:
        roll = self.rng.random()
        try:
            if roll < 0.15:
                return self.credits_edit()
            if roll < 0.50:
                return self.refund()
            if roll < 0.55:
                return self.refund(crash="after reservation")
            if roll < 0.60:
                return self.refund(crash="before recording")
            if roll < 0.70:
                return self.decide()
            if roll < 0.81:
                return self.webhook()
            if roll < 0.85:
                return self.dispute()
            if roll < 0.92:
                return self.sms_send()
            return self.reconcile()
        except (RefundRefused, CreditsConflict, CreditsRefused) as refusal:
            return f"refused: {type(refusal).__name__}"
        finally:
            self.stripe.faults = []

    def check(self) -> None:
        report = books_verify(show=5)
        if report.offender_count:
            raise InvariantBroken(f"the books: {report.offenders}")
        succeeded_at_stripe = {rid for rid, refund in self.stripe.refunds.items() if refund["status"] == "succeeded"}
        lost = Refund.objects.filter(
            gateway_refund_id__in=succeeded_at_stripe,
            status__in=[Refund.Status.FAILED, Refund.Status.CANCELED, Refund.Status.REJECTED],
        )
        if lost.exists():
            raise InvariantBroken(f"charged at Stripe, failed in the portal: {list(lost.values_list('pk', 'status'))}")
        if self.twilio is not None:
            texts = Counter(
                found.group(1)
                for text in self.twilio.messages
                if (found := re.search(r"\nRef (\w+)$", text["body"] or ""))
            )
            twice = [reference for reference, count in texts.items() if count > 1]
            if twice:
                raise InvariantBroken(f"Twilio holds two texts of the messages with references {twice}")
        for message_id, status in SmsMessage.objects.values_list("pk", "status"):
            before = self.statuses.get(message_id)
            if before is not None and STATUS_RANK[status] < STATUS_RANK[before]:
                raise InvariantBroken(f"message {message_id} went back from {before} to {status}")
            self.statuses[message_id] = status

    def play(self) -> Counter:
        for number in range(self.steps):
            outcome = self.step()
            self.done[outcome.split(" (")[0]] += 1
            try:
                self.check()
            except InvariantBroken as broken:
                raise InvariantBroken(f"seed {self.seed}, step {number + 1} ({outcome}): {broken}") from None
        # In the end, with the gateway answering, nothing stays unsettled that Stripe knows.
        self.stripe.faults = []
        refunds_reconcile(older_than=timedelta(0))
        self.check()
        return self.done


class _DyingBackend:
    """An SMS backend whose worker dies during the provider call (lookups still answer)."""

    name = "twilio"

    def __init__(self, backend, *, after_sending: bool) -> None:
        self.backend = backend
        self.after_sending = after_sending

    def send(self, **kwargs):
        if self.after_sending:
            self.backend.send(**kwargs)
        raise WorkerDied

    def find(self, **kwargs):
        return self.backend.find(**kwargs)
