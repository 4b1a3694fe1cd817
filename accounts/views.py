import csv
import json
from dataclasses import asdict

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.middleware import HtmxDetails

from accounts.access import staff_required, user_get_for_staff
from accounts.forms import AuditFilterForm, StaffUpdateForm, UserSearchForm
from accounts.models import AuditEvent, User
from accounts.roles import ROLES
from accounts.selectors import audit_events, audit_page, user_search
from accounts.services import StaffChangeRefused, audit_record, staff_role, staff_update


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# The profile's tabs: (key, label, URL name). Each tab's view lives in the app that owns its data.
PROFILE_TABS = [
    ("overview", "Overview", "user_detail"),
    ("payments", "Payments", "user_payments"),
    ("activity", "Activity", "user_activity"),
]


def profile_render(
    request: HtmxHttpRequest, *, customer: User, tab: str, template_name: str, context: dict | None = None, status=200
) -> HttpResponse:
    """Render a profile tab: the whole page, or only the tabs region when HTMX switches tabs."""
    if request.htmx and request.htmx.target == "profile-tabs":
        template_name += "#profile-tabs"
    context = {"customer": customer, "tab": tab, "tabs": PROFILE_TABS, "nav": "users", **(context or {})}
    return render(request, template_name, context, status=status)


@require_GET
@staff_required
def user_list(request: HtmxHttpRequest) -> HttpResponse:
    form = UserSearchForm(request.GET)
    page = None
    status = 200
    if form.is_valid():
        page = user_search(query=form.cleaned_data["q"], after=form.cleaned_data["after"])
    else:
        status = 422
    template_name = "accounts/user_list.html"
    # A search typed in the box swaps only the results; the box itself keeps focus and caret.
    if request.htmx and request.htmx.target == "user-results":
        template_name += "#user-results"
    context = {"form": form, "page": page, "query": form.data.get("q", ""), "nav": "users"}
    return render(request, template_name, context, status=status)


@require_GET
@staff_required
def user_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    return profile_render(request, customer=customer, tab="overview", template_name="accounts/user_overview.html")


AUDIT_CSV_COLUMNS = [
    "id",
    "time",
    "actor",
    "actor_id",
    "action",
    "customer_id",
    "about",
    "before",
    "after",
    "ip_address",
    "user_agent",
    "correlation_id",
]


def _audit_permission_check(request: HtmxHttpRequest, codename: str = "view_auditevent") -> None:
    if not request.user.has_perm(f"accounts.{codename}"):
        raise PermissionDenied("The audit log is for Administrators.")


@require_GET
@staff_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    _audit_permission_check(request)
    form = AuditFilterForm(request.GET)
    page = None
    status = 200
    if form.is_valid():
        page = audit_page(filters=form.filters(), before=form.cleaned_data["before"])
    else:
        status = 422
    query = request.GET.copy()
    query.pop("before", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "nav": "audit"}
    return render(request, "accounts/audit_log.html", context, status=status)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@staff_required
def audit_export(request: HtmxHttpRequest) -> HttpResponse:
    """The filtered audit log as CSV, streamed row by row: a million events never sit in memory."""
    _audit_permission_check(request, "export_auditevent")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Fix the filters before exporting: " + form.errors.as_text())
    filters = form.filters()
    audit_record(action=AuditEvent.Action.AUDIT_EXPORTED, actor=request.user, after=asdict(filters))
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_CSV_COLUMNS)
        for event in audit_events(filters=filters).iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    event.pk,
                    event.created_at.isoformat(),
                    event.actor_label,
                    event.actor_id or "",
                    event.action,
                    event.target_user_id or "",
                    f"{event.about_type_id}:{event.about_id}" if event.about_id else "",
                    json.dumps(event.before, cls=DjangoJSONEncoder) if event.before is not None else "",
                    json.dumps(event.after, cls=DjangoJSONEncoder) if event.after is not None else "",
                    event.ip_address or "",
                    event.user_agent,
                    event.correlation_id,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="statstak-audit-log.csv"'
    return response


@require_http_methods(["GET", "POST"])
@staff_required
def staff_list(request: HtmxHttpRequest) -> HttpResponse:
    """Staff members, their roles and access (Administrators)."""
    if not request.user.has_perm("accounts.manage_staff"):
        raise PermissionDenied("Only Administrators manage staff.")
    error = ""
    changed = None
    if request.method == "POST":
        form = StaffUpdateForm(request.POST)
        if form.is_valid():
            member = get_object_or_404(User, pk=form.cleaned_data["member"], is_staff=True)
            try:
                changed = staff_update(
                    member=member,
                    role=form.cleaned_data["role"],
                    is_active=form.cleaned_data["is_active"],
                    actor=request.user,
                )
            except StaffChangeRefused as refusal:
                error = str(refusal)
        else:
            error = "Choose a valid role."
    members = list(User.objects.filter(is_staff=True).prefetch_related("groups").order_by("first_name", "email"))
    rows = [(member, staff_role(member)) for member in members]
    context = {"rows": rows, "roles": ROLES, "error": error, "changed": changed, "nav": "staff"}
    return render(request, "accounts/staff_list.html", context, status=422 if error else 200)
