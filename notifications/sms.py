"""The SMS boundary: the only module that talks to an SMS provider, and the only one importing `twilio`.

A backend is chosen by `settings.SMS_BACKEND`, as Django chooses its email backend:

- `console`: the development stand-in for a phone. Prints the text to standard output (the
  worker's log) and answers with a made-up message id.
- `twilio`: Twilio's official SDK, `messages.create` with a delivery-status callback URL.

`backend.send()` returns the provider's message id, or raises one of:

- `SmsNotSent`: the provider surely does not have the message, and the same request may succeed
  later: the connection was refused, the name did not resolve, the connection or TLS handshake
  timed out (nothing was sent), or Twilio answered 429 (20429, too many requests).
- `SmsOutcomeUnknown`: the request may have reached the provider and its answer was lost: a read
  timeout, a connection reset or closed after the request went out, a 5xx (Twilio may have
  taken the message before failing). Twilio has no idempotency key, so resending blindly can
  text the customer twice: the caller must `find()` it first.
- `SmsConfigurationError`: Twilio refused our credentials (401, 20003): nothing was sent, and
  nothing will be until someone fixes the settings; not the message's fault.
- `SmsPermanentError`: the provider refused the message; sending it again would be refused again
  (21211 invalid number, 21610 unsubscribed, …).

`backend.find()` lists the provider's recent messages to a number and returns those carrying a
message's reference: what the provider did with a send whose answer was lost. Its failures raise
the same errors (a failed lookup sent nothing).

Every `reason` is safe to show staff and to log: phone numbers in it are masked.
"""

import json
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TextIO

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from urllib3.exceptions import MaxRetryError

from core.log_masking import mask_phone, mask_phones_in
from core.metrics import external_call
from notifications.models import TWILIO_AUTHENTICATION_ERROR

TWILIO_API_URL = "https://api.twilio.com"

# Twilio's codes for why a message it accepted was not delivered (the status callback's ErrorCode).
TWILIO_DELIVERY_ERRORS = {
    "30003": "Unreachable destination handset",
    "30004": "Message blocked by the recipient or their carrier",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Filtered by the carrier as spam",
    "30008": "Unknown error at the carrier",
}


class SmsError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SmsTemporaryError(SmsError):
    """The provider could not take the message now; the same request may succeed later."""

    code = ""  # the provider's error code, when it gave one


class SmsNotSent(SmsTemporaryError):
    """The provider surely does not have the message: it can be sent again as it is."""


class SmsOutcomeUnknown(SmsTemporaryError):
    """The provider may have the message: look it up before any resend."""


class SmsConfigurationError(SmsTemporaryError):
    """The provider refused our credentials: nothing was sent; messages wait for the settings."""


class SmsPermanentError(SmsError):
    """The provider refused the message; sending it again would be refused again."""

    code = ""


@dataclass(frozen=True)
class ProviderMessage:
    """A message the provider holds, as a lookup found it."""

    id: str
    status: str  # the provider's word ("queued", "sent", "delivered", "failed"…)
    error_code: str
    created_at: datetime | None


class SmsBackend(Protocol):
    name: str

    def send(self, *, to: str, body: str, status_callback: str | None) -> str:
        """Hand the message to the provider; return the provider's message id."""
        ...

    def find(self, *, to: str, reference: str, body: str, since: datetime) -> list[ProviderMessage]:
        """The provider's messages to `to` created since `since` that carry `reference` (or, for a
        message sent before references, whose text is `body`), oldest first."""
        ...


class ConsoleSmsBackend:
    """Prints each text instead of sending it: local runs and demos need no SMS account.

    The number is masked like in every log line. The body is printed in full only with DEBUG on
    (a development machine); anywhere else only its length, so a misconfigured production worker
    does not copy customers' messages into its logs.
    """

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    @external_call("console", "message_create")
    def send(self, *, to: str, body: str, status_callback: str | None) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        shown = body if settings.DEBUG else f"({len(body)} characters, shown only with DEBUG on)"
        stream = self.stream or sys.stdout
        stream.write(f"SMS to {mask_phone(to)} [{message_id}]\n{shown}\n-- end of SMS --\n")
        stream.flush()
        return message_id

    def find(self, *, to: str, reference: str, body: str, since: datetime) -> list[ProviderMessage]:
        # Printing never loses an answer: a message the console did not confirm was not printed.
        return []


class _TwilioHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, optionally aimed at another address than api.twilio.com.

    A custom `http_client` is the SDK's documented way to change how requests are made; tests and
    benchmarks use it to talk to a local server with the real SDK on top.
    """

    def __init__(self, *, api_base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_base_url = api_base_url.rstrip("/")

    def request(self, method: str, url: str, *args, **kwargs) -> Response:
        if self.api_base_url and url.startswith(TWILIO_API_URL):
            url = self.api_base_url + url[len(TWILIO_API_URL) :]
        return super().request(method, url, *args, **kwargs)


class TwilioSmsBackend:
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        api_base_url: str = "",
        timeout: float = 10,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID to send from.")
        http_client = _TwilioHttpClient(api_base_url=api_base_url, timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.sender = (
            {"messaging_service_sid": messaging_service_sid} if messaging_service_sid else {"from_": from_number}
        )

    @external_call("twilio", "message_create")
    def send(self, *, to: str, body: str, status_callback: str | None) -> str:
        options = dict(self.sender)
        if status_callback:
            options["status_callback"] = status_callback
        try:
            message = self.client.messages.create(to=to, body=body, **options)
        except (TwilioException, requests.RequestException) as error:  # sorted into ours: the SDK's stay here
            raise _sms_error(error, doing="send") from error
        if not message.sid:
            raise SmsOutcomeUnknown("Twilio answered without a message id.")
        return message.sid

    @external_call("twilio", "message_lookup")
    def find(self, *, to: str, reference: str, body: str, since: datetime) -> list[ProviderMessage]:
        """Twilio's outbound messages to `to` since `since` carrying `reference`, oldest first.

        Filtered by `To` only, not by `DateSent`: a message Twilio took and has not sent yet has no
        `date_sent`, and a `DateSent` filter leaves it out, yet it is exactly the one looked for.
        Twilio lists newest first, so reading stops at the first message older than `since`, or
        after FIND_MAX_MESSAGES (a number with more texts than that in the window is not a
        customer's phone).
        """
        token = re.compile(rf"\bRef {re.escape(reference)}\b") if reference else None
        found = []
        try:
            for record in self.client.messages.stream(to=to, limit=FIND_MAX_MESSAGES, page_size=FIND_PAGE_SIZE):
                if record.date_created is not None and record.date_created < since:
                    break
                if not str(record.direction or "").startswith("outbound"):
                    continue
                text = record.body or ""
                if not (token.search(text) if token else text == body):
                    continue
                found.append(
                    ProviderMessage(
                        id=record.sid,
                        status=str(record.status or ""),
                        error_code=str(record.error_code or ""),
                        created_at=record.date_created,
                    )
                )
        except (TwilioException, requests.RequestException) as error:
            raise _sms_error(error, doing="look up") from error
        # Twilio lists newest first, and its times have whole seconds: its order breaks the ties.
        found.reverse()
        return sorted(found, key=lambda message: (message.created_at is None, message.created_at or since))


# Twilio lists newest first; a lookup reads at most this many messages to one number.
FIND_MAX_MESSAGES = 200
FIND_PAGE_SIZE = 50


def _sms_error(error: TwilioException | requests.RequestException, *, doing: str) -> SmsError:
    """An exception from the SDK or the network, as one of our errors (see the module docstring)."""
    if isinstance(error, (TwilioRestException, TwilioServiceException)):
        return _twilio_error(error)
    if isinstance(error, requests.ConnectTimeout):
        return SmsNotSent(f"Could not reach Twilio to {doing} (connection timed out).")
    if isinstance(error, requests.Timeout):
        return SmsOutcomeUnknown(f"Twilio did not answer in time ({doing}).")
    if isinstance(error, requests.ConnectionError):
        # requests wraps a connection that could not be made (refused, DNS, TLS handshake) in a
        # MaxRetryError; one that broke after the request went out (reset, closed) in a ProtocolError.
        if error.args and isinstance(error.args[0], MaxRetryError):
            return SmsNotSent(f"Could not reach Twilio to {doing} (ConnectionError).")
        return SmsOutcomeUnknown(f"The connection to Twilio broke before it answered ({doing}).")
    if isinstance(error, requests.RequestException):
        return SmsOutcomeUnknown(f"Twilio's answer was lost ({type(error).__name__}, {doing}).")
    if isinstance(error, TwilioException) and len(error.args) == 2 and isinstance(error.args[1], Response):
        # A list page answered with an error: the SDK does not read Twilio's error document for us.
        return _twilio_page_error(error.args[1])
    # The SDK could not read Twilio's answer (a page that is not JSON…): it may have the message.
    return SmsOutcomeUnknown(mask_phones_in(f"Twilio client error ({doing}): {error}"))


def _twilio_page_error(response: Response) -> SmsError:
    try:
        document = json.loads(response.text)
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    return _twilio_error_from(
        status=response.status_code, code=document.get("code"), detail=str(document.get("message") or "")
    )


def _twilio_error(error: TwilioRestException | TwilioServiceException) -> SmsError:
    if isinstance(error, TwilioServiceException):
        detail = error.detail or error.title
    else:
        detail = str(error.msg).removeprefix("Unable to create record: ")
    return _twilio_error_from(status=error.status, code=error.code, detail=detail)


def _twilio_error_from(*, status: int, code: object, detail: str) -> SmsError:
    reason = mask_phones_in(f"Twilio error {code or status} (HTTP {status}): {detail}")
    code = str(code or "")
    if status == 401 or code == TWILIO_AUTHENTICATION_ERROR:
        failure: SmsError = SmsConfigurationError(reason)
    elif status == 429:  # refused for now: not taken
        failure = SmsNotSent(reason)
    elif status >= 500:  # trouble on Twilio's side, perhaps after it took the message
        failure = SmsOutcomeUnknown(reason)
    else:
        failure = SmsPermanentError(reason)
    failure.code = code
    return failure


_backends = threading.local()


def sms_backend() -> SmsBackend:
    """The backend that settings ask for, one per thread (the Twilio client keeps its connections)."""
    key = (
        settings.SMS_BACKEND,
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_FROM_NUMBER,
        settings.TWILIO_MESSAGING_SERVICE_SID,
        settings.TWILIO_API_BASE_URL,
        settings.TWILIO_TIMEOUT_SECONDS,
    )
    cached = getattr(_backends, "cached", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    if settings.SMS_BACKEND == "console":
        backend: SmsBackend = ConsoleSmsBackend()
    elif settings.SMS_BACKEND == "twilio":
        backend = TwilioSmsBackend(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            from_number=settings.TWILIO_FROM_NUMBER,
            messaging_service_sid=settings.TWILIO_MESSAGING_SERVICE_SID,
            api_base_url=settings.TWILIO_API_BASE_URL,
            timeout=settings.TWILIO_TIMEOUT_SECONDS,
        )
    else:
        raise ValueError(f"Unknown SMS_BACKEND {settings.SMS_BACKEND!r}: use 'console' or 'twilio'.")
    _backends.cached = (key, backend)
    return backend


def twilio_signature_is_valid(*, url: str, params: dict, signature: str) -> bool:
    """Whether a webhook request was signed by Twilio with our auth token (`X-Twilio-Signature`).

    `url` must be the full URL Twilio requested, as Twilio saw it (public scheme and host).
    Without an auth token nothing is valid: an unconfigured portal accepts no callbacks.
    """
    if not (settings.TWILIO_AUTH_TOKEN and signature):
        return False
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)


def twilio_delivery_error(code: str) -> str:
    """Staff-readable words for the ErrorCode of an undelivered or failed message."""
    description = TWILIO_DELIVERY_ERRORS.get(code)
    return f"Twilio error {code}: {description}" if description else f"Twilio error {code}"
