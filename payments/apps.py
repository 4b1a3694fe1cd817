from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from audit.actions import audit_actions_register
        from payments.audit import PaymentAction

        audit_actions_register(PaymentAction)
