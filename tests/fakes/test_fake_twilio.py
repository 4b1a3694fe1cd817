"""The fake Twilio answers as Twilio's Messages API does, through the real SDK.

A request Twilio would refuse is refused here, with Twilio's status and error code, and leaves no
message behind; a message Twilio would take is held and listed as Twilio lists it.
"""

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.sms import _TwilioHttpClient
from tests.fakes.twilio import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER

TO = "+12025550143"


def sdk(twilio, *, token: str = TWILIO_AUTH_TOKEN) -> Client:
    http: TwilioHttpClient = _TwilioHttpClient(api_base_url=twilio.server.url_for("/"), timeout=5)
    return Client(TWILIO_ACCOUNT_SID, token, http_client=http)


def test_it_takes_a_valid_message_and_lists_it(twilio):
    # The positive control: else the refusals below could be refusals of everything.
    created = sdk(twilio).messages.create(to=TO, from_=TWILIO_FROM_NUMBER, body="Hello")
    assert created.sid.startswith("SM")
    assert created.status == "queued"
    assert created.date_sent is None
    [listed] = sdk(twilio).messages.list(to=TO)
    assert (listed.sid, listed.status, listed.body, listed.direction) == (created.sid, "sent", "Hello", "outbound-api")
    assert listed.date_sent is not None


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"to": "2025550143", "from_": TWILIO_FROM_NUMBER, "body": "Hi"}, 400, 21211),
        ({"to": TO, "body": "Hi"}, 400, 21603),
        ({"to": TO, "from_": TWILIO_FROM_NUMBER, "body": ""}, 400, 21602),
        ({"to": TO, "from_": TWILIO_FROM_NUMBER, "body": "x" * 1601}, 400, 21617),
    ],
)
def test_it_refuses_what_twilio_refuses(twilio, params, status, code):
    with pytest.raises(TwilioRestException) as refused:
        sdk(twilio).messages.create(**params)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert twilio.messages == []


def test_it_refuses_a_number_that_unsubscribed(twilio):
    twilio.unsubscribed.add(TO)
    with pytest.raises(TwilioRestException) as refused:
        sdk(twilio).messages.create(to=TO, from_=TWILIO_FROM_NUMBER, body="Hi")
    assert (refused.value.status, refused.value.code) == (400, 21610)
    assert twilio.messages == []


def test_wrong_credentials_are_a_401_with_error_20003_for_sending_and_listing(twilio):
    with pytest.raises(TwilioRestException) as refused:
        sdk(twilio, token="rotated").messages.create(to=TO, from_=TWILIO_FROM_NUMBER, body="Hi")
    assert (refused.value.status, refused.value.code) == (401, 20003)
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        sdk(twilio, token="rotated").messages.list(to=TO)
    assert twilio.messages == []


def test_the_list_filters_by_to_and_date_sent_and_leaves_out_messages_not_sent_yet(twilio):
    client = sdk(twilio)
    sent = client.messages.create(to=TO, from_=TWILIO_FROM_NUMBER, body="Sent")
    client.messages.create(to="+12025550199", from_=TWILIO_FROM_NUMBER, body="Someone else")
    twilio.hold_queued = True
    queued = client.messages.create(to=TO, from_=TWILIO_FROM_NUMBER, body="Still queued")
    today = datetime.now(UTC)

    assert [m.sid for m in client.messages.list(to=TO)] == [queued.sid, sent.sid]  # newest first
    assert [m.sid for m in client.messages.list(to=TO, date_sent_after=today - timedelta(days=1))] == [sent.sid]
    assert client.messages.list(to=TO, date_sent_after=today + timedelta(days=1)) == []
    assert [m.sid for m in client.messages.list(to=TO, date_sent_before=today + timedelta(days=1))] == [sent.sid]
    twilio.send_queued()
    assert len(client.messages.list(to=TO, date_sent_after=today - timedelta(days=1))) == 2


def test_the_list_comes_in_pages(twilio):
    client = sdk(twilio)
    for number in range(5):
        client.messages.create(to=TO, from_=TWILIO_FROM_NUMBER, body=f"Text {number}")
    bodies = [m.body for m in client.messages.stream(to=TO, page_size=2)]
    assert bodies == [f"Text {number}" for number in range(4, -1, -1)]
    assert len(twilio.list_requests) == 3
