from django.contrib.auth.management import create_permissions
from django.db import migrations

# A frozen copy of accounts' part of accounts/roles.py as of this migration: later changes to the
# roles need a migration of their own, and history must not change when that module does. Each
# app grants its own permissions to these roles in its own migration (payments 0006, refunds
# 0003), so accounts depends on no app above it. (Until issue 10 this migration granted them all
# and depended on payments and refunds; databases made then already have the same grants.)
SUPPORT = [("accounts", "view_user")]
FINANCE = [*SUPPORT]
ADMINISTRATOR = [
    *FINANCE,
    ("accounts", "manage_staff"),
    ("accounts", "view_auditevent"),
    ("accounts", "export_auditevent"),
]
ROLES = {"Support": SUPPORT, "Finance": FINANCE, "Administrator": ADMINISTRATOR}


def roles_create(apps, schema_editor):
    # Permissions are normally created after all migrations ran; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in permissions]
        )


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_audit_event"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
