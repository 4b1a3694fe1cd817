"""One line per request: method, path (no query string), status, duration, correlation id, staff id."""

import logging
import re

import pytest
from django.urls import reverse

from accounts.roles import SUPPORT
from statstak.request_log import QueryStringFilter
from tests.factories import CustomerFactory
from tests.people import staff_with_role

pytestmark = pytest.mark.django_db

LINE = re.compile(r"^(GET|POST) (\S+) (\d{3}) (\d+\.\d)ms request_id=(\S+) staff=(\S+)$")


def request_lines(caplog) -> list[re.Match]:
    return [LINE.match(record.getMessage()) for record in caplog.records if record.name == "statstak.request"]


def test_a_request_is_one_line_with_its_correlation_id_and_staff_id_and_no_query_string(client, caplog):
    staff = staff_with_role(SUPPORT)
    CustomerFactory(first_name="Elijah", last_name="Herrick", email="elijah.herrick@example.com")
    client.force_login(staff)

    with caplog.at_level(logging.INFO, logger="statstak.request"):
        response = client.get(reverse("user_list") + "?q=elijah+herrick", headers={"X-Request-ID": "req-0123456789"})

    (line,) = request_lines(caplog)
    assert line is not None, caplog.text
    method, path, status, duration, request_id, staff_id = line.groups()
    assert (method, path, status) == ("GET", "/users/", "200")
    assert float(duration) >= 0
    assert request_id == response["X-Request-ID"] == "req-0123456789"
    assert staff_id == str(staff.pk)
    assert "elijah" not in caplog.text.lower()
    assert "q=" not in caplog.text


def test_the_fields_ride_on_the_record_for_a_json_formatter(client, caplog):
    with caplog.at_level(logging.INFO, logger="statstak.request"):
        client.get(reverse("login"))

    (record,) = [record for record in caplog.records if record.name == "statstak.request"]
    assert record.request_fields["method"] == "GET"
    assert record.request_fields["path"] == "/login/"
    assert record.request_fields["status"] == 200
    assert record.request_fields["staff_id"] == "-"


def test_a_login_and_a_logout_name_the_staff_member_by_id_only(client, caplog):
    staff = staff_with_role(SUPPORT, email="adam@statstak.test")

    with caplog.at_level(logging.INFO, logger="statstak.request"):
        client.post(reverse("login"), {"username": staff.email, "password": "correct horse battery staple"})
        client.post(reverse("logout"))

    login, logout = request_lines(caplog)
    assert login.groups()[:3] == ("POST", "/login/", "302") and login.group(6) == str(staff.pk)
    assert logout.groups()[:3] == ("POST", "/logout/", "302") and logout.group(6) == "-"
    assert staff.email not in caplog.text


def test_runservers_request_line_loses_its_query_string():
    record = logging.LogRecord(
        "django.server", logging.WARNING, __file__, 1, '"%s" %s %s', ("GET /users/?q=elijah HTTP/1.1", "404", "9"), None
    )

    QueryStringFilter().filter(record)

    assert record.getMessage() == '"GET /users/ HTTP/1.1" 404 9'


def test_the_filter_is_on_runservers_logger():
    assert any(isinstance(f, QueryStringFilter) for f in logging.getLogger("django.server").filters)
