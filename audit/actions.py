"""The actions the audit trail knows, each declared by the app that performs it.

An app lists its actions as `TextChoices` and registers them in its `AppConfig.ready()`; the
Audit log shows their labels and filters by them. `audit_record` refuses an action nobody
registered, so a typo fails the first test that reaches it instead of writing an event no
filter can find.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db import models

_labels: dict[str, str] = {}


class AuditAction(models.TextChoices):
    """Actions on the audit trail itself."""

    EXPORTED = "audit_exported", "Audit log exported"


def audit_actions_register(actions: type[models.TextChoices]) -> None:
    for value, label in actions.choices:
        if len(value) > 32:
            raise ImproperlyConfigured(f"Audit action {value!r} is longer than the 32 characters stored.")
        if _labels.get(value, label) != label:
            raise ImproperlyConfigured(
                f"Audit action {value!r} is declared twice, as {_labels[value]!r} and {label!r}."
            )
        _labels[value] = str(label)


def audit_action_is_known(value: str) -> bool:
    return value in _labels


def audit_action_label(value: str) -> str:
    return _labels.get(value, value)


def audit_action_choices() -> list[tuple[str, str]]:
    """Every registered action, by label: the Audit log's filter."""
    return sorted(_labels.items(), key=lambda item: item[1])
