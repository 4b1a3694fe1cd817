"""Twilio's Messages API on a local server, as strict as Twilio where a text can go twice or not at all.

What it holds to, from Twilio's API reference (Messages resource, REST API errors):

- `POST …/Messages.json` needs HTTP Basic auth with the account SID and auth token, else 401 with
  error 20003 ("Authenticate"); `To` must be an E.164 number (else 400/21211); `From` or
  `MessagingServiceSid` (21603), and a `Body` (21602) of at most 1600 characters (21617); a number
  that texted STOP is refused (400/21610). A message it takes is answered 201 with status
  `queued` and no `date_sent`, then "sent" by the fake a moment later (unless `hold_queued`).
- `GET …/Messages.json` lists the account's messages, newest first, in pages (`PageSize`, up to
  1000; `next_page_uri`), filtered by `To`, `From` and `DateSent` / `DateSent<` / `DateSent>`
  (a `YYYY-MM-DD` date or an ISO 8601 time). Like Twilio, a `DateSent` filter leaves out
  messages not sent yet: they have no `date_sent`.
- Faults a test asks for with `will_answer` (one per create request, in order): Twilio's error
  documents (401/20003, 429/20429, 21211, 21610, 5xx); the request dropped without an answer
  (`hang`: not taken); and those that make a second text possible, a message taken and then its
  answer lost: `accept_then_hang` (the client's read times out), `accept_then_reset` (the
  connection is reset after the request was read) and `accept_then_error` (a 5xx after all).

`messages` is what Twilio holds (every message it took, answered or not): the texts the customer
gets. `requests` is every create request as it arrived; `accepted` the forms of those answered 201.
"""

import base64
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://portal.example.com"

BODY_MAX_LENGTH = 1600
E164 = re.compile(r"\+[1-9]\d{6,14}")

Answer = Callable[[Request], Response]


class _Take:
    """An answer that first takes the message (Twilio has it), then answers with `then`.

    `answered`: the client reads the 201 (else the answer is lost on the way).
    `final_status`: what becomes of the message at Twilio (else it is sent at once).
    """

    def __init__(
        self,
        then: Callable[[Request, Response], Response],
        *,
        answered: bool = False,
        final_status: tuple[str, int | None] | None = None,
    ) -> None:
        self.then = then
        self.answered = answered
        self.final_status = final_status


def twilio_error_document(status: int, code: int, message: str) -> Response:
    payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return Response(json.dumps(payload | {"status": status}), status=status, content_type="application/json")


def _as_is(request: Request, response: Response) -> Response:
    return response


# Twilio's 201 for a message it took (the answer when none is queued).
accept = _Take(_as_is, answered=True)


def error(status: int, code: int | None = None, message: str = "") -> Answer:
    """Twilio's error document (or, with no code, a bare error page as from a proxy). Nothing is taken."""

    def answer(request: Request) -> Response:
        if code is None:
            return Response("<html>Internal Server Error</html>", status=status, content_type="text/html")
        return twilio_error_document(status, code, message)

    return answer


def hang(seconds: float) -> Answer:
    """No answer in time, and nothing taken: the client gives up first (then a 504, which nobody reads)."""

    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return Response("gateway timeout", status=504)

    return answer


def accept_then_hang(seconds: float) -> _Take:
    """Twilio takes the message, but its 201 comes after the client stopped waiting (a read timeout)."""

    def then(request: Request, response: Response) -> Response:
        time.sleep(seconds)
        return response

    return _Take(then)


def accept_then_reset() -> _Take:
    """Twilio takes the message, then the connection is reset before the answer is written."""

    def then(request: Request, response: Response) -> Response:
        connection: socket.socket = request.environ["werkzeug.socket"]
        # SO_LINGER with a zero timeout: close() sends a TCP RST instead of a FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
        return response  # written to a closed socket: the server logs it, nobody reads it

    return _Take(then)


def accept_then_error(status: int, code: int | None = None, message: str = "") -> _Take:
    """Twilio takes the message, then answers an error all the same (a 5xx from its edge)."""
    answer = error(status, code, message)
    return _Take(lambda request, response: answer(request))


def accept_with_status(status: str, error_code: int | None = None) -> _Take:
    """Twilio takes the message and answers 201, and the message then ends `status` (e.g. "failed", 30003)."""

    return _Take(_as_is, answered=True, final_status=(status, error_code))


def _rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment, usegmt=True) if moment else None


def _date_filter(value: str, *, upper: bool) -> datetime | None:
    """A DateSent filter value as a moment: a day means its midnight (or the next one, for `<`)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if upper else moment
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


class FakeTwilio:
    """Twilio's Messages API on a local server: gives the queued answers in order, then accepts."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.path = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
        self.account_sid = TWILIO_ACCOUNT_SID
        self.auth_token = TWILIO_AUTH_TOKEN
        self._answers: list[Answer | _Take] = []
        self._list_answers: list[Answer] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []  # every create request, as it arrived (answered or not)
        self.accepted: list[dict] = []  # the form of every create answered with a 201
        self.messages: list[dict] = []  # every message Twilio holds, oldest first: what the customers get
        self.list_requests: list[Request] = []
        self.unsubscribed: set[str] = set()  # numbers that texted STOP: 21610
        self.hold_queued = False  # messages stay `queued` (no date_sent) instead of being sent at once
        server.expect_request(self.path, method="POST").respond_with_handler(self._create)
        server.expect_request(self.path, method="GET").respond_with_handler(self._list)

    # What a test steers.

    def will_answer(self, *answers: Answer | _Take) -> None:
        self._answers.extend(answers)

    def will_answer_lists(self, *answers: Answer) -> None:
        """Faults for the next list requests (a 5xx, a hang); then lists are answered."""
        self._list_answers.extend(answers)

    def texts_to(self, number: str) -> list[dict]:
        """The messages Twilio holds to `number`: what that customer's phone shows."""
        return [message for message in self.messages if message["to"] == number]

    def send_queued(self) -> None:
        """Twilio sends what it held queued (after `hold_queued`)."""
        with self._lock:
            for message in self.messages:
                if message["status"] == "queued":
                    self._mark_sent(message)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._list_answers.clear()
            self.requests.clear()
            self.accepted.clear()
            self.messages.clear()
            self.list_requests.clear()

    # The API.

    def _authenticated(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    def _create(self, request: Request) -> Response:
        with self._lock:
            _ = request.form  # parsed now, while the request is open, to be read after it is answered
            self.requests.append(request)
            answer = self._answers.pop(0) if self._answers else accept
        if not self._authenticated(request):
            return twilio_error_document(401, 20003, "Authenticate")
        if not isinstance(answer, _Take):
            return answer(request)
        refusal = self._refusal(request.form)
        if refusal is not None:
            return refusal
        message = self._take(request.form)
        response = Response(json.dumps(self._resource(message)), status=201, content_type="application/json")
        with self._lock:
            if answer.final_status:
                message["status"], message["error_code"] = answer.final_status
            elif not self.hold_queued:
                self._mark_sent(message)
            if answer.answered:
                self.accepted.append(dict(request.form) | {"sid": message["sid"]})
        return answer.then(request, response)

    def _refusal(self, form) -> Response | None:
        to = form.get("To", "")
        if not E164.fullmatch(to):
            return twilio_error_document(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return twilio_error_document(400, 21603, "A 'From' phone number is required.")
        body = form.get("Body", "")
        if not body:
            return twilio_error_document(400, 21602, "Message body is required.")
        if len(body) > BODY_MAX_LENGTH:
            return twilio_error_document(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if to in self.unsubscribed:
            return twilio_error_document(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    def _take(self, form) -> dict:
        now = datetime.now(UTC)
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "to": form.get("To"),
            "from": form.get("From") or TWILIO_FROM_NUMBER,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status_callback": form.get("StatusCallback"),
            "status": "queued",
            "error_code": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
        }
        with self._lock:
            self.messages.append(message)
        return message

    @staticmethod
    def _mark_sent(message: dict) -> None:
        message["status"] = "sent"
        message["date_sent"] = message["date_updated"] = datetime.now(UTC)

    def _resource(self, message: dict) -> dict:
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message["body"],
            "date_created": _rfc2822(message["date_created"]),
            "date_sent": _rfc2822(message["date_sent"]),
            "date_updated": _rfc2822(message["date_updated"]),
            "direction": "outbound-api",
            "error_code": message["error_code"],
            "error_message": None,
            "from": message["from"],
            "messaging_service_sid": message["messaging_service_sid"],
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message["sid"],
            "status": message["status"],
            "subresource_uris": {"media": f"{self.path[:-5]}/{message['sid']}/Media.json"},
            "to": message["to"],
            "uri": f"{self.path[:-5]}/{message['sid']}.json",
        }

    def _list(self, request: Request) -> Response:
        with self._lock:
            self.list_requests.append(request)
            fault = self._list_answers.pop(0) if self._list_answers else None
        if not self._authenticated(request):
            return twilio_error_document(401, 20003, "Authenticate")
        if fault is not None:
            return fault(request)
        args = request.args
        try:
            page_size = int(args.get("PageSize", "50"))
            page = int(args.get("Page", "0"))
        except ValueError:
            return twilio_error_document(400, 20001, "Invalid PageSize or Page")
        if not (1 <= page_size <= 1000) or page < 0:
            return twilio_error_document(400, 20001, "PageSize must be between 1 and 1000")
        bounds = []
        for key, upper in (("DateSent", None), ("DateSent>", False), ("DateSent<", True)):
            if key not in args:
                continue
            value = args[key].removeprefix("=")  # "DateSent>=2024-01-01" arrives as key "DateSent>", value "=…"
            if key == "DateSent":
                start, end = _date_filter(value, upper=False), _date_filter(value, upper=True)
                if start is None:
                    return twilio_error_document(400, 20001, f"Invalid DateSent: {value}")
                bounds += [(start, False), (end, True)]
            else:
                moment = _date_filter(value, upper=upper)
                if moment is None:
                    return twilio_error_document(400, 20001, f"Invalid {key}: {value}")
                bounds.append((moment, upper))

        def wanted(message: dict) -> bool:
            if "To" in args and message["to"] != args["To"]:
                return False
            if "From" in args and message["from"] != args["From"]:
                return False
            for moment, upper in bounds:
                sent = message["date_sent"]
                if sent is None or (sent >= moment if upper else sent < moment):
                    return False
            return True

        with self._lock:
            found = [message for message in reversed(self.messages) if wanted(message)]
        chunk = found[page * page_size : (page + 1) * page_size]
        filters = {key: value for key, value in args.items() if key not in ("Page", "PageSize", "PageToken")}

        def uri(number: int) -> str:
            query = filters | {"PageSize": page_size, "Page": number}
            if number:
                query["PageToken"] = f"PA{found[number * page_size - 1]['sid']}"
            return f"{self.path}?{urlencode(query)}"

        payload = {
            "messages": [self._resource(message) for message in chunk],
            "end": page * page_size + max(len(chunk) - 1, 0),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if len(found) > (page + 1) * page_size else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": uri(page - 1) if page else None,
            "start": page * page_size,
            "uri": uri(page),
        }
        return Response(json.dumps(payload), status=200, content_type="application/json")
