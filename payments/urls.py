from django.urls import path

from payments import views, views_batches

urlpatterns = [
    path("<int:pk>/payments/", views.user_payments, name="user_payments"),
    # Regions of the Payments tab that HTMX swaps on their own.
    path("<int:pk>/payments/info/", views.payment_info, name="payment_info"),
    path("<int:pk>/payments/history/", views.past_payments, name="past_payments"),
    # The Activity tab's Credit history region (its pager).
    path("<int:pk>/activity/history/", views.credit_history, name="credit_history"),
    path("<int:pk>/credits/", views.credits_edit, name="credits_edit"),
    path("<int:pk>/credits/recent/", views.credit_history_recent, name="credit_history_recent"),
    # Bulk credit changes from a CSV file.
    path("credit-batches/", views_batches.credit_batches, name="credit_batches"),
    path("credit-batches/<int:batch_pk>/", views_batches.credit_batch_detail, name="credit_batch_detail"),
    path("credit-batches/<int:batch_pk>/apply/", views_batches.credit_batch_apply, name="credit_batch_apply"),
    path("credit-batches/<int:batch_pk>/progress/", views_batches.credit_batch_progress, name="credit_batch_progress"),
    path("credit-batches/<int:batch_pk>/result.csv", views_batches.credit_batch_result, name="credit_batch_result"),
]
