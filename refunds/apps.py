from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = "Refunds"

    def ready(self) -> None:
        from audit.actions import audit_actions_register
        from refunds.audit import RefundAction

        audit_actions_register(RefundAction)
