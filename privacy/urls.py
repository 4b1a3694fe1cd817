from django.urls import path

from privacy import views

urlpatterns = [
    path("<int:pk>/erase/", views.customer_erase_view, name="customer_erase"),
]
