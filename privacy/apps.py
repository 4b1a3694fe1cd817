from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        from audit.actions import audit_actions_register
        from privacy.audit import PrivacyAction

        audit_actions_register(PrivacyAction)
