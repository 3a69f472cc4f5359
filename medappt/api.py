"""The one API router: the whole `/api/v1/` surface on one screen."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from accounts.views import AuthViewSet, UserPhotoViewSet, UserViewSet
from audit.views import AccessLogViewSet, AuditEventViewSet, FieldChangeViewSet
from core.filters import ID_REGEX
from formats.views import CalendarFeedViewSet
from messaging.views import WebhookDeliveryViewSet, WebhookSubscriptionViewSet
from scheduling.views.appointments import AppointmentViewSet
from scheduling.views.desk import AppointmentStatsViewSet, DayViewSet
from scheduling.views.directory import AvailabilityViewSet, DoctorReviewViewSet, DoctorViewSet
from scheduling.views.holds import SlotHoldViewSet
from scheduling.views.leaves import LeaveViewSet
from scheduling.views.reviews import AppointmentReviewViewSet, ReviewViewSet
from scheduling.views.templates import AvailabilityExceptionViewSet, AvailabilityTemplateViewSet
from scheduling.views.time_blocks import TimeBlockViewSet
from scheduling.views.visit_types import DoctorVisitTypeViewSet, VisitTypeViewSet
from scheduling.views.waitlist import WaitlistEntryViewSet, WaitlistOfferViewSet

router = SimpleRouter(trailing_slash=True)

router.register("auth", AuthViewSet, basename="auth")
router.register("auth/me/access-log", AccessLogViewSet, basename="access-log")
router.register("users", UserViewSet, basename="user")
router.register(rf"users/(?P<user_id>{ID_REGEX})/photo", UserPhotoViewSet, basename="user-photo")
router.register("doctors", DoctorViewSet, basename="doctor")
router.register(
    rf"doctors/(?P<doctor_id>{ID_REGEX})/availability", AvailabilityViewSet, basename="availability"
)
router.register(
    rf"doctors/(?P<doctor_id>{ID_REGEX})/reviews", DoctorReviewViewSet, basename="doctor-review"
)
router.register("visit-types", VisitTypeViewSet, basename="visit-type")
router.register("time-blocks", TimeBlockViewSet, basename="time-block")
router.register(
    "availability-templates", AvailabilityTemplateViewSet, basename="availability-template"
)
router.register(
    rf"availability-templates/(?P<template_id>{ID_REGEX})/exceptions",
    AvailabilityExceptionViewSet,
    basename="availability-exception",
)
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register(
    rf"appointments/(?P<appointment_id>{ID_REGEX})/review",
    AppointmentReviewViewSet,
    basename="appointment-review",
)
router.register("holds", SlotHoldViewSet, basename="hold")
router.register("calendar-feeds", CalendarFeedViewSet, basename="calendar-feed")
router.register("reviews", ReviewViewSet, basename="review")
router.register("waitlist/offers", WaitlistOfferViewSet, basename="waitlist-offer")
router.register("waitlist", WaitlistEntryViewSet, basename="waitlist-entry")
router.register("day", DayViewSet, basename="day")
router.register("leaves", LeaveViewSet, basename="leave")
router.register("stats/appointments", AppointmentStatsViewSet, basename="appointment-stats")
router.register("webhooks/subscriptions", WebhookSubscriptionViewSet, basename="webhook")
router.register("webhooks/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("audit/events", AuditEventViewSet, basename="audit-event")
router.register("audit/changes", FieldChangeViewSet, basename="audit-change")

urlpatterns = [
    *router.urls,
    # GET (public) and PUT (admin) on one list URL, which the router's routes do not pair.
    re_path(
        rf"^doctors/(?P<doctor_id>{ID_REGEX})/visit-types/$",
        DoctorVisitTypeViewSet.as_view({"get": "list", "put": "replace"}),
        name="doctor-visit-types",
    ),
]
