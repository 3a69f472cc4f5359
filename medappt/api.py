"""The one API router: the whole `/api/v1/` surface on one screen."""

from rest_framework.routers import DefaultRouter

from accounts.views import AuthViewSet, DoctorViewSet, UserViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

router.register("auth", AuthViewSet, basename="auth")
router.register("users", UserViewSet, basename="user")
router.register("doctors", DoctorViewSet, basename="doctor")

urlpatterns = router.urls
