from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from audit.actions import audit_actions_register
        from notifications.audit import NotificationAction

        audit_actions_register(NotificationAction)
