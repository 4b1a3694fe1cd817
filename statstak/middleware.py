from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers


class PortalCacheMiddleware:
    """Every portal page may be a whole page or an HTMX fragment of the same URL, and shows
    customer data: say that the answer varies with the HTMX headers, and keep it out of caches
    (a browser's Back must never show a cached fragment, or yesterday's balance)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request", "HX-Target"))
        patch_cache_control(response, no_store=True, private=True)
        return response
