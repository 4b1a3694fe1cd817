"""Twilio's message status callback: signed, idempotent, never moving a message backwards."""

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from notifications.models import SmsMessage
from notifications.services import sms_notify
from tests.factories import CustomerFactory, SmsMessageFactory
from tests.fakes.twilio import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN

Status = SmsMessage.Status
SID = "SM" + "a" * 32


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = TWILIO_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL


@pytest.fixture
def sent(db) -> SmsMessage:
    return SmsMessageFactory(status=Status.SENT, provider="twilio", provider_message_id=SID, attempts=1)


def callback_params(status: str, sid: str = SID, **extra: str) -> dict[str, str]:
    """What Twilio posts (the fields that matter, and a few that do not)."""
    return {
        "AccountSid": TWILIO_ACCOUNT_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": "+12025550143",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post_callback(
    message_id: int,
    params: dict[str, str],
    *,
    signed_for: str = PUBLIC_BASE_URL,
    signature: str | None = None,
    client: Client | None = None,
):
    path = reverse("twilio_sms_status", args=[message_id])
    if signature is None:
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(signed_for + path, params)
    client = client or Client(enforce_csrf_checks=True)
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def test_a_signed_delivered_callback_marks_the_message_delivered(sent):
    response = post_callback(sent.pk, callback_params("delivered"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    assert sent.last_error == ""


def test_it_needs_no_login_and_no_csrf_token(sent):
    # Twilio has neither; the signature stands in for both. (post_callback's client is anonymous
    # and enforces CSRF checks.)
    response = post_callback(sent.pk, callback_params("delivered"))
    assert response.status_code == 200
    assert "login" not in response.get("Location", "")


def test_undelivered_records_twilios_reason(sent):
    post_callback(sent.pk, callback_params("undelivered", ErrorCode="30003"))
    sent.refresh_from_db()
    assert sent.status == Status.UNDELIVERED
    assert sent.last_error == "Twilio error 30003: Unreachable destination handset"


def test_failed_without_an_error_code_still_says_so(sent):
    post_callback(sent.pk, callback_params("failed"))
    sent.refresh_from_db()
    assert sent.status == Status.FAILED
    assert sent.last_error == "Twilio reported it failed"


@pytest.mark.parametrize(
    "signature",
    ["", "not-a-signature", RequestValidator("another-token").compute_signature("https://x", {})],
)
def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(sent, signature):
    response = post_callback(sent.pk, callback_params("delivered"), signature=signature)
    assert response.status_code == 403
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_a_signature_over_other_values_is_refused(sent):
    path = reverse("twilio_sms_status", args=[sent.pk])
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + path, callback_params("undelivered")
    )
    response = post_callback(sent.pk, callback_params("delivered"), signature=signature)
    assert response.status_code == 403
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_a_signature_for_another_message_is_refused(sent):
    other = SmsMessageFactory(status=Status.SENT, provider="twilio", provider_message_id="SM" + "b" * 32)
    path = reverse("twilio_sms_status", args=[other.pk])
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, callback_params("failed"))
    response = post_callback(sent.pk, callback_params("failed"), signature=signature)
    assert response.status_code == 403


def test_without_an_auth_token_every_callback_is_refused(sent, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    response = post_callback(sent.pk, callback_params("delivered"))
    assert response.status_code == 403
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_the_signature_is_checked_against_the_public_address(sent):
    # Behind a proxy the request reaches Django as http://testserver/…; Twilio signed the public URL.
    refused = post_callback(sent.pk, callback_params("delivered"), signed_for="http://testserver")
    assert refused.status_code == 403
    accepted = post_callback(sent.pk, callback_params("delivered"), signed_for=PUBLIC_BASE_URL)
    assert accepted.status_code == 200


def test_without_a_public_address_the_request_address_is_used(sent, settings):
    settings.PUBLIC_BASE_URL = ""
    response = post_callback(sent.pk, callback_params("delivered"), signed_for="http://testserver")
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED


def test_an_unknown_message_gets_a_200_and_nothing_changes(sent):
    response = post_callback(sent.pk + 1000, callback_params("delivered"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_a_callback_naming_another_provider_id_flags_a_second_text_and_keeps_the_first(sent):
    # Signed by Twilio for this message's URL: Twilio holds a second text of it.
    assert sent.provider_duplicate_ids == []
    response = post_callback(sent.pk, callback_params("undelivered", sid="SM" + "f" * 32))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert (sent.status, sent.provider_message_id) == (Status.SENT, SID)
    assert sent.provider_duplicate_ids == ["SM" + "f" * 32]
    # Its later callbacks change nothing more.
    post_callback(sent.pk, callback_params("delivered", sid="SM" + "f" * 32))
    sent.refresh_from_db()
    assert (sent.status, sent.provider_duplicate_ids) == (Status.SENT, ["SM" + "f" * 32])


def test_a_callback_adopts_the_id_of_an_unconfirmed_message(db):
    unconfirmed = SmsMessageFactory(status=Status.UNCONFIRMED, attempts=1, last_error="Twilio did not answer in time.")
    post_callback(unconfirmed.pk, callback_params("sent"))
    unconfirmed.refresh_from_db()
    assert (unconfirmed.status, unconfirmed.provider_message_id) == (Status.SENT, SID)


def test_a_replayed_callback_changes_nothing(sent):
    post_callback(sent.pk, callback_params("delivered"))
    sent.refresh_from_db()
    first = sent.status_changed_at
    response = post_callback(sent.pk, callback_params("delivered"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    assert sent.status_changed_at == first


@pytest.mark.parametrize(
    ("callbacks", "final"),
    [
        (["sent", "delivered"], Status.DELIVERED),
        (["delivered", "sent"], Status.DELIVERED),
        (["delivered", "queued", "sending"], Status.DELIVERED),
        (["undelivered", "sent"], Status.UNDELIVERED),
        (["delivered", "undelivered"], Status.DELIVERED),
        (["failed", "delivered"], Status.FAILED),
    ],
)
def test_out_of_order_callbacks_never_move_a_message_backwards(sent, callbacks, final):
    for status in callbacks:
        assert post_callback(sent.pk, callback_params(status)).status_code == 200
    sent.refresh_from_db()
    assert sent.status == final


def test_a_status_twilio_may_add_later_is_ignored(sent):
    assert post_callback(sent.pk, callback_params("partially_delivered")).status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_a_callback_that_overtakes_the_send_job_supplies_the_provider_id(db):
    # Twilio answered, but the worker has not written the answer down yet (or never will).
    sending = SmsMessageFactory(status=Status.SENDING, attempts=1)
    post_callback(sending.pk, callback_params("delivered"))
    sending.refresh_from_db()
    assert (sending.status, sending.provider, sending.provider_message_id) == (Status.DELIVERED, "twilio", SID)


def test_twilios_word_corrects_a_failure_we_only_guessed(db):
    # Every attempt timed out, so we gave up; but Twilio had taken one of them and says delivered.
    gave_up = SmsMessageFactory(status=Status.FAILED, attempts=4, last_error="Gave up after 4 attempts.")
    post_callback(gave_up.pk, callback_params("delivered"))
    gave_up.refresh_from_db()
    assert (gave_up.status, gave_up.provider_message_id, gave_up.last_error) == (Status.DELIVERED, SID, "")


def test_a_signed_callback_without_the_message_fields_is_a_400(sent):
    response = post_callback(sent.pk, {"AccountSid": TWILIO_ACCOUNT_SID})
    assert response.status_code == 400
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_it_refuses_get(sent):
    response = Client().get(reverse("twilio_sms_status", args=[sent.pk]))
    assert response.status_code == 405


def test_the_callback_twilio_was_given_marks_the_sent_message_delivered(twilio, run_worker):
    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    run_worker()
    [request] = twilio.requests
    callback_url = request.form["StatusCallback"]
    params = callback_params("delivered", sid=twilio.accepted[0]["sid"])
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(callback_url, params)
    response = post_callback(message.pk, params, signature=signature)
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
