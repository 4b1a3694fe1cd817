from django.db import models


class RateLimitWindow(models.Model):
    """How often `key` (a staff member, say) did `scope` (execute a refund) in one time window.

    One row per (scope, key) is kept: starting a new window deletes the key's older ones.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=128)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key", "window_start"], name="ratelimit_window_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} by {self.key}: {self.hits} since {self.window_start:%H:%M:%S}"
