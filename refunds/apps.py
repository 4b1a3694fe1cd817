from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = "Refunds"

    def ready(self) -> None:
        from accounts.lookup import id_lookup_register
        from audit.actions import audit_actions_register
        from refunds.audit import RefundAction
        from refunds.lookup import refund_jump

        audit_actions_register(RefundAction)
        id_lookup_register(refund_jump)  # the search bar's jump by id (accounts/lookup.py)
