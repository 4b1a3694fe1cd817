from datetime import timedelta
from itertools import count

import factory
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import FINANCE, roles_ensure
from audit.models import AuditEvent
from notifications.models import SmsMessage
from payments.audit import PaymentAction
from payments.models import GatewayEvent, LedgerEntry, Payment
from payments.services import ledger_append, payment_record_from_gateway
from refunds.models import Refund

STAFF_PASSWORD = "correct horse battery staple"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = "+12025550143"
    credits = 0
    password = "!"  # unusable: customers never log in to the portal
    date_joined = factory.LazyFunction(timezone.now)


class StaffFactory(CustomerFactory):
    """A staff member who may look customers up (`accounts.view_user`) and, with `roles=[...]`,
    do what those roles allow (accounts/roles.py: "Support", "Finance", "Administrator").
    `passwordless=True`: one who never logs in during the test (hashing a password is most of a
    short test's time)."""

    email = factory.Sequence(lambda n: f"staff{n}@statstak.test")
    # No phone: a staff member with a customer's number would be that customer (no self-service).
    phone = ""
    is_staff = True
    password = factory.django.Password(STAFF_PASSWORD)

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        passwordless = factory.Trait(password="!")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if not create:
            return
        self.user_permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="view_user"))
        if extracted:
            roles_ensure()
            self.groups.add(*Group.objects.filter(name__in=extracted))


class PaymentFactory(factory.django.DjangoModelFactory):
    """A $100.00 payment for 500 credits on the sandbox gateway (its id picks the sandbox's behaviour).
    Not in the ledger: `purchase_record(PaymentFactory())` enters the purchase."""

    class Meta:
        model = Payment

    user = factory.SubFactory(CustomerFactory)
    gateway = "sandbox"
    gateway_id = factory.Sequence(lambda n: f"pi_sandbox_test_{n}")
    description = "Pro pack — 500 credits"
    amount = 10000
    currency = "USD"
    credits_bought = 500


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    """A ledger entry written the only way the portal writes one, through `payments.services.ledger_append`
    (under the customer's row lock, in a transaction): `balance_after` and the customer's cached
    balance (`User.credits`, also on the `user` passed in) follow from `credits_delta`. The ledger
    is append-only; a balance cannot go below 0 (`CreditsRefused`). By default: 100 credits given
    by nobody in particular."""

    class Meta:
        model = LedgerEntry

    user = factory.SubFactory(CustomerFactory)
    kind = LedgerEntry.Kind.ADJUSTMENT
    credits_delta = 100
    actor = None

    @classmethod
    def _create(cls, model_class, *, user: User, **fields) -> LedgerEntry:
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=user.pk)
            entry = ledger_append(locked_user=locked, **fields)
        user.credits = locked.credits
        return entry


def purchase_record(payment: Payment) -> Payment:
    """Enter `payment` in the ledger as the purchase that gave its customer the credits it bought."""
    LedgerEntryFactory(
        user=payment.user,
        kind=LedgerEntry.Kind.PURCHASE,
        credits_delta=payment.credits_bought,
        money_delta=payment.amount,
        currency=payment.currency,
        payment=payment,
    )
    return payment


_stripe_ids = count(1)


def stripe_payment(
    *, gateway_id: str = "", amount: int = 10000, credits: int = 500, customer=None, currency: str = "USD"
) -> Payment:
    """A customer's Stripe payment as the portal records one from Stripe: with its purchase ledger
    entry. `amount` is in Stripe's minor units of `currency` (100000 HUF is 1,000 Ft)."""
    customer = customer or CustomerFactory()
    payment, _ = payment_record_from_gateway(
        user_id=customer.pk,
        gateway=Payment.Gateway.STRIPE,
        gateway_id=gateway_id or f"pi_3Portal{next(_stripe_ids):06d}",
        amount=amount,
        currency=currency,
        credits_bought=credits,
        description="Pro pack — 500 credits",
    )
    return payment


class RefundFactory(factory.django.DjangoModelFactory):
    """A refund the portal reserved and sent to the gateway, still waiting for its answer: pending,
    $25.00 of the payment, requested by the customer, asked for by a Finance member. No gateway id
    (its answer never came): give `gateway_refund_id` for one the gateway did answer. `age`: how
    long ago it was reserved. Made as a row, not through `refund_execute`: nothing is reserved in
    the ledger or sent anywhere (what a refund left by a request that died looks like)."""

    class Meta:
        model = Refund

    class Params:
        age = timedelta(0)

    payment = factory.SubFactory(PaymentFactory)
    type = Refund.Type.PARTIAL
    reason = Refund.Reason.REQUESTED_BY_CUSTOMER
    amount = 2500
    currency = factory.LazyAttribute(lambda refund: refund.payment.currency)
    status = Refund.Status.PENDING
    idempotency_key = factory.Sequence(lambda n: f"form-key-{n:06d}")
    requested_by = factory.SubFactory(StaffFactory, roles=[FINANCE], passwordless=True)
    created_at = factory.LazyAttribute(lambda refund: timezone.now() - refund.age)


class SmsMessageFactory(factory.django.DjangoModelFactory):
    """A message as `sms_notify` leaves it: queued, to the user's number (no job: add one if needed)."""

    class Meta:
        model = SmsMessage

    user = factory.SubFactory(CustomerFactory)
    to = factory.LazyAttribute(lambda message: message.user.phone)
    body = factory.Sequence(lambda n: f"Your refund #{n} is on its way.")
    status = SmsMessage.Status.QUEUED


class AuditEventFactory(factory.django.DjangoModelFactory):
    """An audit event as `audit.services.audit_record` writes one: by default a Support member's
    credits change for a customer, from 0 to 10. Append-only: it can be made, never changed."""

    class Meta:
        model = AuditEvent

    actor = factory.SubFactory(StaffFactory, passwordless=True)
    actor_label = factory.LazyAttribute(
        lambda event: (event.actor.get_full_name() or event.actor.get_username()) if event.actor else ""
    )
    action = PaymentAction.CREDITS_ADJUSTED
    target_user = factory.SubFactory(CustomerFactory)
    before = factory.LazyFunction(lambda: {"credits": 0})
    after = factory.LazyFunction(lambda: {"credits": 10})


class GatewayEventFactory(factory.django.DjangoModelFactory):
    """A Stripe webhook event the portal has acted on (`stripe_event_process` stores each one it acts
    on, so that a replay changes nothing); `outcome` says what it did."""

    class Meta:
        model = GatewayEvent

    gateway = Payment.Gateway.STRIPE
    event_id = factory.Sequence(lambda n: f"evt_3Factory{n:06d}")
    type = "refund.updated"
    object_id = factory.Sequence(lambda n: f"re_3Factory{n:06d}")
    outcome = ""
