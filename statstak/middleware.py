from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers


class PortalCacheMiddleware:
    """Every portal page may be a whole page or an HTMX fragment of the same URL, and shows
    customer data: say that the answer varies with `HX-Request`, and keep it out of caches
    (a browser's Back must never show a cached fragment, or yesterday's balance). No view
    chooses by `HX-Target`: a region that swaps on its own has its own URL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        patch_cache_control(response, no_store=True, private=True)
        return response
