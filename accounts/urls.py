from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.user_list, name="user_list"),
    path("<int:pk>/", views.user_detail, name="user_detail"),
    path("<int:pk>/payments/", views.user_payments, name="user_payments"),
    path("<int:pk>/activity/", views.user_activity, name="user_activity"),
]
