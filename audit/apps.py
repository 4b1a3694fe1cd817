from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit.actions import AuditAction, audit_actions_register

        audit_actions_register(AuditAction)
