"""/portal/: the pages of DESIGN-R2 §R2-10 (docs/portal.md)."""

from django.urls import path, re_path, register_converter

from portal.views import account, appointments, auth, booking, day, doctors, waitlist


class IdConverter:
    """An id: at most 18 digits, so a longer number is 404, never a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

app_name = "portal"

urlpatterns = [
    path("", doctors.home, name="home"),
    path("doctors/", doctors.doctor_list, name="doctors"),
    path("doctors/<id:doctor_id>/", doctors.doctor_detail, name="doctor"),
    path("holds/", booking.holds, name="holds"),
    path("holds/<id:hold_id>/", booking.hold_detail, name="hold"),
    path("holds/<id:hold_id>/release/", booking.hold_release, name="hold-release"),
    path("appointments/", appointments.appointment_list, name="appointments"),
    path("appointments/<id:appointment_id>/", appointments.appointment_detail, name="appointment"),
    path(
        "appointments/<id:appointment_id>/cancel/",
        appointments.appointment_cancel,
        name="appointment-cancel",
    ),
    path(
        "appointments/<id:appointment_id>/confirm/",
        appointments.appointment_confirm,
        name="appointment-confirm",
    ),
    path(
        "appointments/<id:appointment_id>/reschedule/",
        appointments.appointment_reschedule,
        name="appointment-reschedule",
    ),
    path(
        "appointments/<id:appointment_id>/review/",
        appointments.appointment_review,
        name="appointment-review",
    ),
    path("reviews/<id:review_id>/edit/", appointments.review_edit, name="review-edit"),
    path("reviews/<id:review_id>/delete/", appointments.review_delete, name="review-delete"),
    path("reviews/<id:review_id>/vote/", doctors.review_vote, name="review-vote"),
    path("waitlist/", waitlist.waitlist, name="waitlist"),
    path("waitlist/<id:entry_id>/leave/", waitlist.waitlist_leave, name="waitlist-leave"),
    path("waitlist/offers/<id:offer_id>/", waitlist.waitlist_offer, name="waitlist-offer"),
    path("profile/", account.profile, name="profile"),
    path("profile/password/", account.password_change, name="password-change"),
    path("profile/photo/", account.photo, name="photo"),
    path("profile/feeds/", account.feeds, name="feeds"),
    path("profile/feeds/<id:feed_id>/revoke/", account.feed_revoke, name="feed-revoke"),
    path("day/", day.day_view, name="day"),
    re_path(
        r"^day/(?P<appointment_id>[0-9]{1,18})/(?P<action>check-in|start-visit|complete|no-show)/$",
        day.day_action,
        name="day-action",
    ),
    path("language/", account.language, name="language"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("register/", auth.register_view, name="register"),
    path("password/reset/", auth.password_reset_view, name="password-reset"),
    path("password/reset/sent/", auth.password_reset_sent_view, name="password-reset-sent"),
    path(
        "password/reset/<str:uid>/<str:token>/",
        auth.password_reset_confirm_view,
        name="password-reset-confirm",
    ),
    path("email/confirm/<str:token>/", account.email_confirm, name="email-confirm"),
]
