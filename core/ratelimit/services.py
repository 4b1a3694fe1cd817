"""Counting attempts against a limit, in PostgreSQL so that every web process sees the same count."""

from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone

from core.ratelimit.models import RateLimitWindow


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one attempt at `scope` by `key`; True when it is beyond `limit` in the current window.

    One atomic upsert per attempt (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), so concurrent
    requests in any number of processes are each counted exactly once. Windows are fixed (aligned
    to multiples of `window_seconds`): around a boundary up to twice the limit can pass, which is
    fine for a guard rail against runaway scripts and double-submitting hands. Attempts refused
    for being over the limit count too, so hammering does not get through any sooner.
    """
    epoch = int(timezone.now().timestamp())
    window_start = datetime.fromtimestamp(epoch - epoch % window_seconds, tz=UTC)
    table = connection.ops.quote_name(RateLimitWindow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, key, window_start, hits) VALUES (%s, %s, %s, 1)"
            f" ON CONFLICT (scope, key, window_start) DO UPDATE SET hits = {table}.hits + 1"
            " RETURNING hits",
            [scope, key, window_start],
        )
        (hits,) = cursor.fetchone()
        if hits == 1:
            # A new window: the key's earlier ones can never be counted again.
            cursor.execute(
                f"DELETE FROM {table} WHERE scope = %s AND key = %s AND window_start < %s",
                [scope, key, window_start],
            )
    return hits > limit
