"""Phone numbers on a page are worked out once, and read as they always did."""

import pytest
from django.urls import reverse
from phonenumber_field.phonenumber import PhoneNumber

import accounts.phones
from accounts.phones import FormattedPhoneNumber, phones_formatted
from accounts.selectors_search import user_search
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_formatted_number_reads_and_compares_as_the_number_it_came_from():
    customer = CustomerFactory(phone="+12025550147")
    customer.refresh_from_db()
    original = customer.phone
    phones_formatted([customer])
    assert isinstance(customer.phone, FormattedPhoneNumber)
    assert str(customer.phone) == str(original) == "+1 202-555-0147"
    assert customer.phone == original and len(customer.phone) == len(str(original))
    assert customer.phone.as_e164 == "+12025550147"


def test_no_phone_stays_blank():
    customer = CustomerFactory(phone="")
    customer.refresh_from_db()
    phones_formatted([customer])
    assert customer.phone == ""


def test_the_users_page_formats_each_number_once(staff_client, monkeypatch):
    for n in range(5):
        CustomerFactory(last_name="Caller", phone=f"+1202555014{n}")
    accounts.phones._text.cache_clear()
    accounts.phones._stored_number.cache_clear()
    calls = []
    real = PhoneNumber.__str__
    monkeypatch.setattr(PhoneNumber, "__str__", lambda self: calls.append(1) or real(self))
    response = staff_client.get(reverse("user_list"), {"q": "caller"})
    assert response.status_code == 200
    assert "+1 202-555-0143" in response.content.decode()
    assert len(calls) == 5  # once each, though the template asks for each twice
    calls.clear()
    user_search(query="caller")
    assert calls == []  # and a page later, not at all
