from django.urls import path

from payments import views

urlpatterns = [
    path("<int:pk>/payments/", views.user_payments, name="user_payments"),
    path("<int:pk>/activity/", views.user_activity, name="user_activity"),
    path("<int:pk>/credits/", views.credits_edit, name="credits_edit"),
    path("<int:pk>/credits/recent/", views.credit_history_recent, name="credit_history_recent"),
]
