from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import user_get_for_staff
from accounts.forms import CustomerNoteForm, StaffUpdateForm, UserSearchForm
from accounts.lookup import Jump, id_jump
from accounts.models import User
from accounts.roles import ROLES
from accounts.selectors import customer_notes, staff_rows, user_by_exact_email
from accounts.selectors_search import SearchTooSlow, user_search
from accounts.services import NoteRefused, StaffChangeRefused, customer_note_add, staff_update
from core.access import staff_required
from core.dates import DAY, TimeTexts, time_texts
from core.htmx import HtmxHttpRequest

# The profile's tabs: (key, label, URL name). Each tab's view lives in the app that owns its data.
PROFILE_TABS = [
    ("overview", "Overview", "user_detail"),
    ("payments", "Payments", "user_payments"),
    ("activity", "Activity", "user_activity"),
]


def _htmx_swap(request: HtmxHttpRequest) -> bool:
    """An HTMX request for a page's one swappable region. A history restore (Back to a page that
    htmx no longer holds, were it to ask instead of reloading) wants the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def profile_render(
    request: HtmxHttpRequest, *, customer: User, tab: str, template_name: str, context: dict | None = None, status=200
) -> HttpResponse:
    """Render a profile tab: the whole page, or only the tabs region when HTMX switches tabs (the
    tab links are the only HTMX requests to a tab's URL: each region inside a tab has its own)."""
    if _htmx_swap(request):
        template_name += "#profile-tabs"
    context = {"customer": customer, "tab": tab, "tabs": PROFILE_TABS, "nav": "users", **(context or {})}
    return render(request, template_name, context, status=status)


def _search_jump(request: HtmxHttpRequest, *, query: str, after: int | None) -> Jump | None:
    """Where the search bar leads straight away, if anywhere: a payment's or refund's id (as it
    is typed: an id is long and exact, a part of one finds nothing), or an exact email once the
    search is submitted (Enter or the button send `go=1`), not while it is being typed (an
    address on its way to a longer one may be someone else's; the results show it first)."""
    if after is not None:
        return None
    jump = id_jump(query=query)
    if jump is not None:
        return jump
    if request.GET.get("go") == "1" and (customer := user_by_exact_email(email=query)) is not None:
        return Jump(url=reverse("user_detail", args=[customer.pk]))
    return None


@dataclass(frozen=True)
class UserRow:
    """A row of the Users list, as text: worked out here once per row (the template's `|date`
    twice and `|intcomma` for each row were most of the page's time after its SQL)."""

    user: User
    href: str
    name: str
    phone: str
    credits: str
    joined: TimeTexts


def _user_rows(users: list[User]) -> list[UserRow]:
    return [
        UserRow(
            user=user,
            href=reverse("user_detail", args=[user.pk]),
            name=user.full_name or user.email,
            phone=str(user.phone) or "—",
            credits=f"{user.credits:,}",
            joined=time_texts(user.date_joined, DAY),
        )
        for user in users
    ]


@require_GET
@staff_required
def user_list(request: HtmxHttpRequest) -> HttpResponse:
    form = UserSearchForm(request.GET)
    page = None
    status = 200
    id_missing = ""
    if form.is_valid():
        jump = _search_jump(request, query=form.cleaned_data["q"], after=form.cleaned_data["after"])
        if jump is not None and jump.url:
            return HttpResponseClientRedirect(jump.url) if request.htmx else redirect(jump.url)
        # An id of nothing: said in the results, and no search of names for it.
        id_missing = jump.message if jump is not None else ""
    if not form.is_valid():
        status = 422
    elif not id_missing:
        try:
            page = user_search(query=form.cleaned_data["q"], after=form.cleaned_data["after"])
        except SearchTooSlow:
            # PostgreSQL cancelled the statement (SEARCH_STATEMENT_TIMEOUT_MS): say so, keep the worker.
            form.add_error("q", "This search took too long; add more letters.")
            status = 422
    template_name = "accounts/user_list.html"
    # A search typed in the box swaps only the results; the box itself keeps focus and caret.
    if _htmx_swap(request):
        template_name += "#user-results"
    context = {
        "form": form,
        "page": page,
        "rows": _user_rows(page.users) if page is not None else [],
        "query": form.data.get("q", ""),
        "id_missing": id_missing,
        "nav": "users",
    }
    return render(request, template_name, context, status=status)


OVERVIEW_NOTES = 5  # the latest notes on the Overview; the Activity tab's timeline has them all


def _notes_context(request: HtmxHttpRequest, customer: User, form: CustomerNoteForm | None = None) -> dict:
    return {
        "notes": customer_notes(user=customer, limit=OVERVIEW_NOTES),
        "note_form": form or CustomerNoteForm(),
        "can_add_note": request.user.has_perm("accounts.add_customernote"),
    }


@require_GET
@staff_required
def user_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    return profile_render(
        request,
        customer=customer,
        tab="overview",
        template_name="accounts/user_overview.html",
        context=_notes_context(request, customer),
    )


@require_POST
@staff_required
def customer_note_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Add a staff note to a customer (any role with `accounts.add_customernote`)."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    if not request.user.has_perm("accounts.add_customernote"):
        raise PermissionDenied("You do not have permission to add notes.")
    form = CustomerNoteForm(request.POST)
    note = None
    if form.is_valid():
        try:
            note = customer_note_add(customer=customer, author=request.user, text=form.cleaned_data["text"])
        except NoteRefused as refusal:
            form.add_error("text", str(refusal))
    if note is not None and not request.htmx:
        messages.success(request, "Note added.")
        return redirect("user_detail", pk=customer.pk)
    status = 200 if note is not None else 422
    context = _notes_context(request, customer, None if note is not None else form) | {"added_note": note}
    if request.htmx:
        context |= {"customer": customer}
        return render(request, "accounts/user_overview.html#customer-notes", context, status=status)
    return profile_render(
        request,
        customer=customer,
        tab="overview",
        template_name="accounts/user_overview.html",
        context=context,
        status=status,
    )


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
    context = {"rows": staff_rows(), "roles": ROLES, "error": error, "changed": changed, "nav": "staff"}
    return render(request, "accounts/staff_list.html", context, status=422 if error else 200)
