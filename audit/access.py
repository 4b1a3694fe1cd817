from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied


def audit_permission_check(*, staff: AbstractBaseUser, codename: str = "view_auditevent") -> None:
    if not staff.has_perm(f"audit.{codename}"):
        raise PermissionDenied("The audit log is for Administrators.")
