"""`GET /metrics`: the portal's metrics in Prometheus' text format, for a Prometheus server only.

Access: `Authorization: Bearer <METRICS_TOKEN>` (Prometheus' `authorization` in its scrape
config). The token is compared in constant time. Without METRICS_TOKEN set the endpoint does not
exist (404), so a portal nobody configured for monitoring shows nothing; a missing or wrong token
gets 401 and nothing else. No login: Prometheus has none, and a session would be worth more than
the token.

What it answers is two sources added together:
- what processes counted (`core.metrics`: requests per view, gateway and SMS calls, webhook
  deliveries): every process on this machine sharing PROMETHEUS_MULTIPROC_DIR (gunicorn's workers
  and the queue worker) added up by prometheus_client's multiprocess collector, or, without that
  folder (runserver, tests), this process's own;
- the business's state read from PostgreSQL now (`statstak.metrics_collector`), the same whichever
  process answers.
"""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from core.metrics import metrics_folder
from statstak.metrics_collector import BusinessStateCollector


class _ThisProcess:
    """This process's own values (the default registry), when processes share no folder."""

    def collect(self):
        return REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """A registry made for one scrape (nothing is kept between scrapes)."""
    registry = CollectorRegistry(auto_describe=False)
    folder = metrics_folder()
    if folder is not None:
        multiprocess.MultiProcessCollector(registry, path=str(folder))
    else:
        registry.register(_ThisProcess())
    registry.register(BusinessStateCollector())
    return registry


def _token_matches(request: HttpRequest) -> bool:
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not offered:
        return False
    return hmac.compare_digest(offered.strip().encode(), settings.METRICS_TOKEN.encode())


@login_not_required
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are not enabled here.")
    if not _token_matches(request):
        response = HttpResponse("A valid bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
