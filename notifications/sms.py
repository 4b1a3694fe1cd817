"""The SMS boundary: the only module that talks to an SMS provider, and the only one importing `twilio`.

A backend is chosen by `settings.SMS_BACKEND`, as Django chooses its email backend:

- `console`: the development stand-in for a phone. Prints the text to standard output (the
  worker's log) and answers with a made-up message id.
- `twilio`: Twilio's official SDK, `messages.create` with a delivery-status callback URL.

`backend.send()` returns the provider's message id, or raises `SmsTemporaryError` (worth trying
again later: network trouble, timeouts, 429, 5xx) or `SmsPermanentError` (trying again cannot
help: an invalid or unsubscribed number). Their `reason` is safe to show staff and to log: phone
numbers in it are masked.
"""

import sys
import threading
import uuid
from typing import Protocol, TextIO

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from core.log_masking import mask_phone, mask_phones_in
from core.metrics import external_call

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


class SmsPermanentError(SmsError):
    """The provider refused the message; sending it again would be refused again."""


class SmsBackend(Protocol):
    name: str

    def send(self, *, to: str, body: str, status_callback: str | None) -> str:
        """Hand the message to the provider; return the provider's message id."""
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
        except (TwilioRestException, TwilioServiceException) as error:
            raise _twilio_error(error) from error
        except requests.Timeout as error:
            raise SmsTemporaryError("Twilio did not answer in time.") from error
        except requests.RequestException as error:
            raise SmsTemporaryError(f"Could not reach Twilio ({type(error).__name__}).") from error
        except TwilioException as error:
            raise SmsTemporaryError(mask_phones_in(f"Twilio client error: {error}")) from error
        if not message.sid:
            raise SmsTemporaryError("Twilio answered without a message id.")
        return message.sid


def _twilio_error(error: TwilioRestException | TwilioServiceException) -> SmsError:
    status = error.status
    if isinstance(error, TwilioServiceException):
        detail = error.detail or error.title
    else:
        detail = str(error.msg).removeprefix("Unable to create record: ")
    reason = mask_phones_in(f"Twilio error {error.code} (HTTP {status}): {detail}")
    # Too many requests, or trouble on Twilio's side: the same request can succeed later.
    if status == 429 or status >= 500:
        return SmsTemporaryError(reason)
    return SmsPermanentError(reason)


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
