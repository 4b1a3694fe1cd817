"""The portal's URLs, plus, for the benchmarks only, Django's admin with a changelist for users and
the floor: the least a page can do for a signed-in staff member."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from accounts.models import User
from core.access import staff_required


class UserAdmin(admin.ModelAdmin):
    # Django's default admin search on the same three fields the portal searches: each word
    # must match one of them with `icontains` (UPPER(col) LIKE UPPER('%word%')).
    search_fields = ["first_name", "last_name", "email"]
    list_display = ["name", "email", "phone", "credits", "date_joined"]

    @admin.display(description="Name")
    def name(self, user: User) -> str:
        return user.full_name


site = admin.AdminSite(name="bench_admin")
site.register(User, UserAdmin)


@require_GET
@staff_required
def user_floor(request: HttpRequest, pk: int) -> HttpResponse:
    """The floor for a profile tab: the same URL routing, middleware, session and staff check, one
    user fetched by primary key, a line of HTML. No page of the portal can cost less."""
    user = get_object_or_404(User, pk=pk)
    return HttpResponse(format_html("<!doctype html><title>{}</title><p>{} credits</p>", user.full_name, user.credits))


urlpatterns = [
    path("admin/", site.urls),
    path("bench/floor/<int:pk>/", user_floor, name="bench_user_floor"),
    path("", include("statstak.urls")),
]
