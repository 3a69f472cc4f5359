"""The front desk in the admin: the live day board on the home page (check-in, start of the
visit, completion through the same services as the API) and the attendance statistics page.

The board is one template (admin/desk_board.html) the home page includes and the fragment
view renders alone; a small script (scheduling/static/scheduling/desk_board.js) fetches the
fragment every 30 s. A plain request for the fragment gets the full home page.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from audit.services import audit_record_patient_views
from core.exceptions import Conflict
from core.roles import CLINIC_ROLES
from scheduling import services
from scheduling.day import clinic_day, clinic_today
from scheduling.desk_serializers import StatsQueryInputSerializer
from scheduling.models import Appointment
from scheduling.stats import GROUP_BY, appointment_stats

# The header desk_board.js sends: with it the board view answers the fragment alone.
FRAGMENT_HEADER = "X-Desk-Board"
REFRESH_SECONDS = 30

# Doctors do not use the console: an admin starts and completes visits for them there.
VISIT_ROLES = (User.Role.ADMIN,)

# action in the URL -> (service, who may, success message)
DESK_ACTIONS = {
    "check-in": (services.appointment_check_in, CLINIC_ROLES, gettext_lazy("%(name)s checked in.")),
    "start-visit": (
        services.appointment_start_visit,
        VISIT_ROLES,
        gettext_lazy("Visit of %(name)s started."),
    ),
    "complete": (
        services.appointment_complete,
        VISIT_ROLES,
        gettext_lazy("Visit of %(name)s completed."),
    ),
}


def may_view_desk(user) -> bool:
    """Staff and admins with the appointment view permission see the board."""
    return user.role in CLINIC_ROLES and user.has_perm("scheduling.view_appointment")


def desk_board(request: HttpRequest, *, record: bool = True) -> dict:
    """Today's board for the home page and the fragment: the day, what the caller may press,
    and one patient_record.viewed per patient shown (the home page records them together
    with the rest of the page: record=False)."""
    day = clinic_day(day=clinic_today())
    if record:
        audit_record_patient_views(patient_ids=day.patient_ids, actor=request.user)
    return {
        "day": day,
        "allowed_actions": [
            a for a, (_, roles, _) in DESK_ACTIONS.items() if request.user.role in roles
        ],
        "refresh_seconds": REFRESH_SECONDS,
        "board_url": reverse("admin:desk_board"),
    }


def board_view(request: HttpRequest, site) -> HttpResponse:
    """The board fragment for desk_board.js; a plain request goes to the home page."""
    if not request.headers.get(FRAGMENT_HEADER):
        return HttpResponseRedirect(reverse("admin:index"))
    if not may_view_desk(request.user):
        return HttpResponse(status=403)
    return TemplateResponse(request, "admin/desk_board.html", {"desk_board": desk_board(request)})


@require_POST
def action_view(request: HttpRequest, site, pk: int, action: str) -> HttpResponse:
    """Check in, start or complete a visit through its service; a refusal is a message."""
    service, roles, done = DESK_ACTIONS[action]
    if request.user.role not in roles or not may_view_desk(request.user):
        messages.error(request, _("You may not do this here."))
        return HttpResponseRedirect(reverse("admin:index"))
    appointment = get_object_or_404(Appointment.objects.select_related("patient"), pk=pk)
    try:
        service(actor=request.user, appointment=appointment)
    except Conflict as error:
        messages.error(request, error.detail)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done % {"name": appointment.patient.get_full_name()})
    return HttpResponseRedirect(reverse("admin:index"))


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------
BAR_WIDTH = 480  # px of the longest bar
BAR_HEIGHT = 22
LABEL_WIDTH = 180


@dataclass
class Bar:
    label: str
    y: int
    text_y: int
    segments: list[tuple[str, int, int, int]]  # (css class, x, width, count)
    total: int


def doctor_bars(groups: list[dict], names: dict[int, str]) -> dict:
    """The SVG bar chart per doctor: completed, no-shows, cancellations and the rest of the
    total as segments of one bar, scaled to the largest total."""
    largest = max((g["total"] for g in groups), default=0) or 1
    bars = []
    for index, group in enumerate(groups):
        parts = [
            ("completed", group["completed"]),
            ("no-show", group["no_show"]),
            ("cancelled", group["cancelled"]),
            ("other", group["total"] - group["completed"] - group["no_show"] - group["cancelled"]),
        ]
        x, segments = LABEL_WIDTH, []
        for css, count in parts:
            width = round(count * BAR_WIDTH / largest)
            if count:
                segments.append((css, x, width, count))
            x += width
        y = index * (BAR_HEIGHT + 8)
        bars.append(
            Bar(
                label=names.get(group["key"], f"#{group['key']}"),
                y=y,
                text_y=y + BAR_HEIGHT - 6,
                segments=segments,
                total=group["total"],
            )
        )
    return {
        "bars": bars,
        "width": LABEL_WIDTH + BAR_WIDTH + 60,
        "height": max(1, len(bars)) * (BAR_HEIGHT + 8),
        "bar_height": BAR_HEIGHT,
        "total_x": LABEL_WIDTH + BAR_WIDTH + 8,
    }


def stats_view(request: HttpRequest, site) -> HttpResponse:
    """The API's statistics (same selector, same parameters) as a table, and per doctor an
    SVG bar chart."""
    if not may_view_desk(request.user):
        return HttpResponse(status=403)
    serializer = StatsQueryInputSerializer(data=request.GET)
    errors = {}
    if serializer.is_valid():
        params = serializer.validated_data
    else:
        errors = serializer.errors
        fallback = StatsQueryInputSerializer(data={})
        fallback.is_valid()
        params = fallback.validated_data
    groups = appointment_stats(start=params["from"], end=params["to"], group_by=params["group_by"])
    by_doctor = (
        groups
        if params["group_by"] == "doctor"
        else appointment_stats(start=params["from"], end=params["to"], group_by="doctor")
    )
    ids = [g["key"] for g in by_doctor]
    names = {u.pk: u.get_full_name() for u in User.objects.filter(pk__in=ids)}
    if params["group_by"] == "doctor":
        for group in groups:
            group["label"] = names.get(group["key"], group["key"])
    last_day = timezone.localtime(
        params["to"] - datetime.timedelta(microseconds=1), timezone.get_default_timezone()
    ).date()
    context = {
        **site.each_context(request),
        "title": _("Attendance statistics"),
        "groups": groups,
        "group_by": params["group_by"],
        "group_by_choices": GROUP_BY,
        "from_day": timezone.localtime(params["from"], timezone.get_default_timezone()).date(),
        "to_day": last_day,
        "errors": errors,
        "chart": doctor_bars(by_doctor, names),
    }
    return TemplateResponse(request, "admin/desk_stats.html", context)


def home_context(request: HttpRequest) -> dict:
    """What the home page adds for the desk: the board (or nothing for other users). The
    caller records the patients shown (desk_board["day"].patient_ids)."""
    if not may_view_desk(request.user):
        return {}
    return {
        "desk_board": desk_board(request, record=False),
        "stats_url": reverse("admin:desk_stats"),
    }
