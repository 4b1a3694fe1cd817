from django.urls import path

from refunds import views

urlpatterns = [
    path("<int:pk>/payments/<int:payment_pk>/refund/", views.refund_create, name="refund_create"),
    path("<int:pk>/payments/<int:payment_pk>/refunds/", views.refund_list_view, name="refund_list"),
]
