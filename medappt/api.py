"""The one API router: the whole `/api/v1/` surface on one screen."""

from rest_framework.routers import DefaultRouter

from accounts.views import AuthViewSet, DoctorViewSet, UserViewSet
from medappt.filters import ID_REGEX
from scheduling.views import AppointmentViewSet, AvailabilityViewSet, TimeBlockViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

router.register("auth", AuthViewSet, basename="auth")
router.register("users", UserViewSet, basename="user")
router.register("doctors", DoctorViewSet, basename="doctor")
router.register(
    rf"doctors/(?P<doctor_id>{ID_REGEX})/availability", AvailabilityViewSet, basename="availability"
)
router.register("time-blocks", TimeBlockViewSet, basename="time-block")
router.register("appointments", AppointmentViewSet, basename="appointment")

urlpatterns = router.urls
