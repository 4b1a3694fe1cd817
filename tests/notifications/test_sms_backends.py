"""notifications.sms: the backend settings choose, and what each needs."""

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from requests import ConnectionError, ConnectTimeout, ReadTimeout
from twilio.base.exceptions import TwilioRestException
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError

from notifications import sms
from notifications.sms import ConsoleSmsBackend, TwilioSmsBackend, sms_backend


def test_the_console_backend_is_chosen_by_its_name(settings):
    settings.SMS_BACKEND = "console"
    assert isinstance(sms_backend(), ConsoleSmsBackend)


def test_the_twilio_backend_is_chosen_by_its_name_and_kept_while_settings_stay(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    backend = sms_backend()
    assert isinstance(backend, TwilioSmsBackend)
    assert sms_backend() is backend
    settings.TWILIO_FROM_NUMBER = "+15005550007"
    assert sms_backend() is not backend


def test_an_unknown_backend_is_refused(settings):
    settings.SMS_BACKEND = "fax"
    with pytest.raises(ValueError, match="Unknown SMS_BACKEND 'fax'"):
        sms_backend()


def test_twilio_needs_a_number_or_a_messaging_service_to_send_from():
    with pytest.raises(ValueError, match="TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"):
        TwilioSmsBackend(account_sid="AC" + "0" * 32, auth_token="token")


def test_the_console_backend_prints_the_text_only_on_a_development_machine(settings):
    out = io.StringIO()
    settings.DEBUG = False
    ConsoleSmsBackend(stream=out).send(to="+12025550143", body="A private matter.", status_callback=None)
    assert "A private matter." not in out.getvalue()
    assert "(17 characters, shown only with DEBUG on)" in out.getvalue()
    settings.DEBUG = True
    message_id = ConsoleSmsBackend(stream=out).send(to="+12025550143", body="A private matter.", status_callback=None)
    assert "A private matter." in out.getvalue()
    assert message_id.startswith("console-")
    assert "+12025550143" not in out.getvalue()


def production_settings(**env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {
        "STATSTAK_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "portal.example.com",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import statstak.settings as s; print(s.SMS_BACKEND)"],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"PUBLIC_BASE_URL": "https://portal.example.com"}, "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"),
        ({"TWILIO_FROM_NUMBER": "+15005550006"}, "PUBLIC_BASE_URL"),
        ({"TWILIO_FROM_NUMBER": "+15005550006", "PUBLIC_BASE_URL": "http://portal.example.com"}, "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_twilio_without_a_sender_or_a_public_https_address(env, complaint):
    result = production_settings(**env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_production_with_complete_twilio_settings_starts_with_the_twilio_backend():
    result = production_settings(TWILIO_FROM_NUMBER="+15005550006", PUBLIC_BASE_URL="https://portal.example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "twilio"


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"SMS_SENDING_STALLED_SECONDS": "100", "TWILIO_TIMEOUT_SECONDS": "20"}, "at least 6 times TWILIO"),
        ({"SMS_SENDING_STALLED_SECONDS": "30"}, "SMS_SENDING_STALLED_SECONDS"),
        ({"SMS_CONFIGURATION_RETRY_SECONDS": "soon"}, "SMS_CONFIGURATION_RETRY_SECONDS"),
    ],
)
def test_it_refuses_to_start_with_a_stall_age_a_live_send_could_reach(env, complaint):
    # A live send taken for a dead one would be looked up while it is on its way, and could go twice.
    result = production_settings(TWILIO_FROM_NUMBER="+15005550006", PUBLIC_BASE_URL="https://portal.example.com", **env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_twilio_errors_are_sorted_by_whether_twilio_may_have_the_message():
    def sorted_as(error: Exception) -> type:
        return type(sms._sms_error(error, doing="send"))

    refused = MaxRetryError(None, "/", NewConnectionError(None, "Connection refused"))
    unresolved = MaxRetryError(None, "/", NameResolutionError("api.twilio.com", None, OSError("no DNS")))
    reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    assert sorted_as(ConnectionError(refused)) is sms.SmsNotSent
    assert sorted_as(ConnectionError(unresolved)) is sms.SmsNotSent
    assert sorted_as(ConnectTimeout()) is sms.SmsNotSent
    assert sorted_as(TwilioRestException(429, "/", "Too Many Requests", code=20429)) is sms.SmsNotSent
    assert sorted_as(ReadTimeout()) is sms.SmsOutcomeUnknown
    assert sorted_as(ConnectionError(reset)) is sms.SmsOutcomeUnknown
    assert sorted_as(TwilioRestException(500, "/", "Internal Server Error", code=20500)) is sms.SmsOutcomeUnknown
    assert sorted_as(TwilioRestException(503, "/", "Service Unavailable")) is sms.SmsOutcomeUnknown
    assert sorted_as(TwilioRestException(401, "/", "Authenticate", code=20003)) is sms.SmsConfigurationError
    assert sorted_as(TwilioRestException(400, "/", "Invalid 'To'", code=21211)) is sms.SmsPermanentError
    assert sorted_as(TwilioRestException(400, "/", "Unsubscribed", code=21610)) is sms.SmsPermanentError
