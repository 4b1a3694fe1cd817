from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.user_list, name="user_list"),
    path("<int:pk>/", views.user_detail, name="user_detail"),
    path("<int:pk>/notes/", views.customer_note_create, name="customer_note_create"),
]
