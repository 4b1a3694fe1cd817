"""Files the portal hands to a browser to save."""

from collections.abc import Iterable

from django.http import StreamingHttpResponse


def csv_download(lines: Iterable[str], *, filename: str) -> StreamingHttpResponse:
    """`lines` of CSV streamed as they are made (never the whole file in memory), saved as
    `filename` (ours, never typed by anyone: it is not escaped)."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
