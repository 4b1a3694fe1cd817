"""The profile's Activity tab: the customer's timeline (refunds' room, the lowest that reads every
source), and the credit history, messages and audit trail under it."""

from django import forms
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from accounts.access import user_get_for_staff
from accounts.phones import phones_formatted
from accounts.views import profile_render
from audit.selectors import AuditFilter, audit_events
from core.access import staff_required
from core.dates import times_formatted
from core.htmx import HtmxHttpRequest
from notifications.selectors import sms_message_list
from payments.forms import HistoryPageForm
from payments.selectors import ledger_history
from refunds.selectors_timeline import TimelineCursor, TimelineKind, customer_timeline

ACTIVITY_TAB = "payments/user_activity.html"
BAD_PAGE_MARKER = "The page marker is not one this page wrote: start again from the newest."


class TimelineFilterForm(forms.Form):
    """The timeline's filter (which kinds) and its page marker (`older`), read from the query string."""

    kind = forms.MultipleChoiceField(
        label="Show", required=False, choices=TimelineKind.CHOICES, widget=forms.CheckboxSelectMultiple
    )
    older = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_older(self) -> TimelineCursor | None:
        text = self.cleaned_data["older"]
        if not text:
            return None
        try:
            return TimelineCursor.parse(text)
        except (ValueError, OverflowError):
            raise forms.ValidationError(BAD_PAGE_MARKER) from None


def _timeline_context(form: TimelineFilterForm, customer) -> dict:
    kinds = form.cleaned_data["kind"] or list(TimelineKind.ALL)
    return {
        "timeline": customer_timeline(user=customer, kinds=kinds, cursor=form.cleaned_data["older"]),
        "timeline_form": form,
        "timeline_filtered": bool(form.cleaned_data["kind"]),
    }


@require_GET
@staff_required
def user_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    form = HistoryPageForm(request.GET)
    timeline_form = TimelineFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("The “before” page marker must be a positive whole number.")
    if not timeline_form.is_valid():
        return HttpResponseBadRequest(" ".join(error for errors in timeline_form.errors.values() for error in errors))
    sms_page = sms_message_list(user=customer)
    phones_formatted(sms_page.messages, attribute="to")  # 50 numbers, each printed after `|default`
    times_formatted(sms_page.messages)
    context = _timeline_context(timeline_form, customer) | {
        "history": ledger_history(user=customer, before=form.cleaned_data["before"]),
        "sms_page": sms_page,
        "audit_events": list(audit_events(filters=AuditFilter(target_user_id=customer.pk))[:20]),
    }
    return profile_render(request, customer=customer, tab="activity", template_name=ACTIVITY_TAB, context=context)


@require_GET
@staff_required
def user_timeline(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Timeline region of the Activity tab alone: its filter and its pager swap it in place."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    timeline_form = TimelineFilterForm(request.GET)
    if not timeline_form.is_valid():
        return HttpResponseBadRequest(" ".join(error for errors in timeline_form.errors.values() for error in errors))
    context = {"customer": customer} | _timeline_context(timeline_form, customer)
    response = render(request, ACTIVITY_TAB + "#timeline", context)
    # The address bar shows the whole tab with the same filter and page, never this region's URL.
    query = request.GET.urlencode()
    return push_url(response, reverse("user_activity", args=[customer.pk]) + (f"?{query}" if query else ""))
