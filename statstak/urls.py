from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import two_factor
from accounts import views as accounts_views
from accounts.forms import StaffAuthenticationForm
from payments import views as payments_views
from refunds.webhooks import stripe_webhook
from statstak import health, metrics

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="user_list", permanent=False)),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=StaffAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    # Reachable by a session that passed the password but not the second factor (as are login_not_required views).
    path("logout/", two_factor.two_factor_exempt(auth_views.LogoutView.as_view()), name="logout"),
    path("account/two-factor/setup/", two_factor.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/verify/", two_factor.two_factor_verify, name="two_factor_verify"),
    path("users/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("books/", include("books.urls")),
    path("staff/", accounts_views.staff_list, name="staff_list"),
    path("users/", include("payments.urls")),
    path("users/", include("privacy.urls")),
    # Large credit changes, decided on the Approvals page beside refunds.
    path(
        "approvals/credits/<int:change_pk>/approve/",
        payments_views.credit_change_approve_view,
        name="credit_change_approve",
    ),
    path(
        "approvals/credits/<int:change_pk>/reject/",
        payments_views.credit_change_reject_view,
        name="credit_change_reject",
    ),
    path("", include("refunds.urls")),
    path("", include("notifications.urls")),
    path("webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
    # For load balancers and monitoring, at the bare paths they probe: no login, no customer data.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # For Prometheus: a bearer token (METRICS_TOKEN), 404 when none is configured; counts only, no customer data.
    path("metrics", metrics.metrics_view, name="metrics"),
]
