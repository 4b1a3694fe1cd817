from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from accounts.lookup import id_lookup_register
        from audit.actions import audit_actions_register
        from payments.audit import PaymentAction
        from payments.lookup import payment_jump

        audit_actions_register(PaymentAction)
        id_lookup_register(payment_jump)  # the search bar's jump by id (accounts/lookup.py)
