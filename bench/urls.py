"""The portal's URLs, plus Django's admin (bench only) with a changelist for users."""

from django.contrib import admin
from django.urls import include, path

from accounts.models import User


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

urlpatterns = [
    path("admin/", site.urls),
    path("", include("statstak.urls")),
]
