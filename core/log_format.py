"""Log lines as JSON, one object per line (LOG_FORMAT=json), for a log platform to index.

    {"time": "2026-12-05T19:04:11.532Z", "level": "INFO", "logger": "statstak.request",
     "message": "GET /users/42/ 200 12.3ms …", "request_id": "3f2a…", "staff_id": "7",
     "view": "user_detail", "duration_ms": 12.3, "method": "GET", "path": "/users/42/", "status": 200}

The same records as the plain format, after the same filters (phone numbers masked, query strings
dropped): this formatter only writes them differently, and adds where they were written (request
id, view, staff id: `core.correlation.log_context`). It writes nothing the plain line would not:
no argument of a record is serialised apart from its formatted message, and of `extra` only the
request log's fields, which are safe by construction (`statstak/request_log.py`).
"""

import json
import logging
from datetime import UTC, datetime

from core.correlation import log_context

# The request log's fields (statstak/request_log.py) that become keys of their own.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "request_id", "staff_id")


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = log_context()
        entry["request_id"] = context["request_id"] or None
        entry["staff_id"] = context["staff_id"] or None
        entry["view"] = context["view"] or None
        entry["duration_ms"] = None
        fields = getattr(record, "request_fields", None)
        if isinstance(fields, dict):
            for key in REQUEST_FIELDS:
                if key in fields:
                    value = fields[key]
                    entry[key] = None if value in ("", "-") else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
