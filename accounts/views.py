from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from accounts.access import staff_required, user_get_for_staff
from accounts.forms import UserSearchForm
from accounts.selectors import sms_message_list, user_search


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


PROFILE_TABS = [
    ("overview", "Overview", "user_detail"),
    ("payments", "Payments", "user_payments"),
    ("activity", "Activity", "user_activity"),
]


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


def _profile(request: HtmxHttpRequest, pk: int, tab: str) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    template_name = "accounts/user_detail.html"
    if request.htmx and request.htmx.target == "profile-tabs":
        template_name += "#profile-tabs"
    context = {"customer": customer, "tab": tab, "tabs": PROFILE_TABS, "nav": "users"}
    if tab == "activity":
        context["sms_page"] = sms_message_list(user=customer)
    return render(request, template_name, context)


@require_GET
@staff_required
def user_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _profile(request, pk, "overview")


@require_GET
@staff_required
def user_payments(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _profile(request, pk, "payments")


@require_GET
@staff_required
def user_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _profile(request, pk, "activity")
