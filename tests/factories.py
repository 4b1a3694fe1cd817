import factory
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from accounts.models import User
from accounts.roles import roles_ensure
from notifications.models import SmsMessage

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
    do what those roles allow (accounts/roles.py: "Support", "Finance", "Administrator")."""

    email = factory.Sequence(lambda n: f"staff{n}@statstak.test")
    is_staff = True
    password = factory.django.Password(STAFF_PASSWORD)

    class Meta:
        model = User
        skip_postgeneration_save = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if not create:
            return
        self.user_permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="view_user"))
        if extracted:
            roles_ensure()
            self.groups.add(*Group.objects.filter(name__in=extracted))


class PaymentFactory(factory.django.DjangoModelFactory):
    """A $100.00 payment for 500 credits on the sandbox gateway (its id picks the sandbox's behaviour)."""

    class Meta:
        model = "payments.Payment"

    user = factory.SubFactory(CustomerFactory)
    gateway = "sandbox"
    gateway_id = factory.Sequence(lambda n: f"pi_sandbox_test_{n}")
    description = "Pro pack — 500 credits"
    amount = 10000
    currency = "USD"
    credits_bought = 500


class SmsMessageFactory(factory.django.DjangoModelFactory):
    """A message as `sms_notify` leaves it: queued, to the user's number (no job: add one if needed)."""

    class Meta:
        model = SmsMessage

    user = factory.SubFactory(CustomerFactory)
    to = factory.LazyAttribute(lambda message: message.user.phone)
    body = factory.Sequence(lambda n: f"Your refund #{n} is on its way.")
    status = SmsMessage.Status.QUEUED


def purchase_record(payment):
    """Enter `payment` in the ledger as the purchase that gave its customer the credits it bought."""
    from django.db import transaction

    from payments.models import LedgerEntry
    from payments.services import ledger_append

    with transaction.atomic():
        customer = User.objects.select_for_update().get(pk=payment.user_id)
        ledger_append(
            locked_user=customer,
            kind=LedgerEntry.Kind.PURCHASE,
            credits_delta=payment.credits_bought,
            money_delta=payment.amount,
            currency=payment.currency,
            actor=None,
            payment=payment,
        )
    return payment
