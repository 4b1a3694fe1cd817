from django.urls import path

from refunds import views, views_activity, views_list

urlpatterns = [
    path("refunds/", views_list.refunds_all, name="refunds_all"),
    path("refunds/export.csv", views_list.refunds_export, name="refunds_export"),
    path("approvals/", views.approvals, name="approvals"),
    # The profile's Activity tab (moved from payments: the timeline reads refunds).
    path("users/<int:pk>/activity/", views_activity.user_activity, name="user_activity"),
    path("users/<int:pk>/activity/timeline/", views_activity.user_timeline, name="user_timeline"),
    path("approvals/<int:refund_pk>/approve/", views.refund_approve_view, name="refund_approve"),
    path("approvals/<int:refund_pk>/reject/", views.refund_reject_view, name="refund_reject"),
    path("users/<int:pk>/payments/<int:payment_pk>/refund/", views.refund_create, name="refund_create"),
    path("users/<int:pk>/payments/<int:payment_pk>/refunds/", views.refund_list_view, name="refund_list"),
    path("users/<int:pk>/payments/<int:payment_pk>/refund/preview/", views.refund_preview_view, name="refund_preview"),
    path(
        "users/<int:pk>/payments/<int:payment_pk>/refunds/<int:refund_pk>/sms/",
        views.refund_sms_status,
        name="refund_sms_status",
    ),
]
