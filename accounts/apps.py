from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.audit import AccountAction  # also connects the login/logout audit receivers
        from audit.actions import audit_actions_register

        audit_actions_register(AccountAction)
