"""Twilio's Messages API on a local server, and the answers a test can make it give."""

import json
import threading
import time
import uuid
from collections.abc import Callable

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://portal.example.com"

Answer = Callable[[Request], Response]


def accept(request: Request) -> Response:
    """Twilio's 201 for a message it took."""
    payload = {
        "sid": "SM" + uuid.uuid4().hex,
        "account_sid": TWILIO_ACCOUNT_SID,
        "to": request.form.get("To"),
        "from": request.form.get("From"),
        "messaging_service_sid": request.form.get("MessagingServiceSid"),
        "body": request.form.get("Body"),
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
    }
    return Response(json.dumps(payload), status=201, content_type="application/json")


def error(status: int, code: int | None = None, message: str = "") -> Answer:
    """Twilio's error document (or, with no code, a bare error page as from a proxy)."""

    def answer(request: Request) -> Response:
        if code is None:
            return Response("<html>Internal Server Error</html>", status=status, content_type="text/html")
        payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return Response(json.dumps(payload | {"status": status}), status=status, content_type="application/json")

    return answer


def hang(seconds: float) -> Answer:
    """No answer in time: the client gives up first (then a 504, which nobody reads)."""

    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return Response("gateway timeout", status=504)

    return answer


class FakeTwilio:
    """Twilio's Messages API on a local server: gives the queued answers in order, then accepts."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.path = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []  # every request, as it arrived (answered or not)
        self.accepted: list[dict] = []  # the form of every message answered with a 201
        server.expect_request(self.path, method="POST").respond_with_handler(self._handle)

    def will_answer(self, *answers: Answer) -> None:
        self._answers.extend(answers)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            _ = request.form  # parsed now, while the request is open, to be read after it is answered
            self.requests.append(request)
            answer = self._answers.pop(0) if self._answers else accept
        response = answer(request)
        if response.status_code == 201:
            with self._lock:
                self.accepted.append(dict(request.form) | {"sid": json.loads(response.get_data())["sid"]})
        return response
