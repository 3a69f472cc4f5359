"""My appointments (a patient's, or a doctor's own), one appointment, cancel, reschedule,
and a doctor's confirm."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from audit.services import audit_record_patient_views
from portal.access import DOCTOR, PATIENT, portal_user_required
from portal.forms import CancelForm, ReviewForm
from portal.keyed import keyed_write, see_other
from portal.views.common import doctor_week, page, refusal, week_monday
from scheduling import selectors, services
from scheduling.models import (
    ACTIVE_STATUSES,
    GENERAL_VISIT_TYPE,
    PATIENT_CANCELLABLE,
    Appointment,
    Review,
    TimeBlock,
)
from scheduling.services.reviews import EDIT_WINDOW

PAST_SHOWN = 20


def _appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    """One of the user's own appointments (another's is 404); a doctor reading it records
    that they saw the patient's record."""
    appointment = get_object_or_404(
        selectors.appointment_list_visible_to(user=request.user), pk=appointment_id
    )
    if request.user.role == User.Role.DOCTOR:
        audit_record_patient_views(patient_ids=[appointment.patient_id], actor=request.user)
    return appointment


@require_safe
@portal_user_required(PATIENT, DOCTOR)
def appointment_list(request: HttpRequest) -> HttpResponse:
    """Upcoming (active, from now) and the last 20 others, each in two queries at most."""
    now = timezone.now()
    visible = selectors.appointment_list_rows(
        selectors.appointment_list_visible_to(user=request.user)
    )
    upcoming = list(visible.filter(status__in=ACTIVE_STATUSES, end__gt=now))
    past = list(
        visible.exclude(pk__in=[a.pk for a in upcoming]).order_by("-start", "-id")[:PAST_SHOWN]
    )
    if request.user.role == User.Role.DOCTOR:
        audit_record_patient_views(
            patient_ids=[a.patient_id for a in upcoming + past], actor=request.user
        )
    return page(request, "portal/appointment_list.html", {"upcoming": upcoming, "past": past})


def _detail_context(request: HttpRequest, appointment: Appointment) -> dict:
    is_patient = request.user.pk == appointment.patient_id
    movable = appointment.status in PATIENT_CANCELLABLE
    review = (
        selectors.review_list_visible_to(user=request.user).filter(appointment=appointment).first()
    )
    return {
        "appointment": appointment,
        "is_patient": is_patient,
        "can_cancel": movable,
        "can_reschedule": movable and is_patient,
        "can_confirm": not is_patient and appointment.status == Appointment.Status.PENDING,
        "notice_hours": settings.CANCELLATION_NOTICE_HOURS,
        "cancel_form": CancelForm(),
        "booked": request.GET.get("booked") == "1",
        "review": review,
        "can_review": is_patient and appointment.status == Appointment.Status.COMPLETED,
        "review_form": ReviewForm(),
        # The author may change or remove it for EDIT_WINDOW (the service decides; the page
        # only stops offering the forms after it).
        "can_edit_review": review is not None
        and review.author_id == request.user.pk
        and timezone.now() - review.created_at <= EDIT_WINDOW,
        "review_edit_form": ReviewForm(
            initial={"rating": review.rating, "comment": review.comment} if review else None
        ),
    }


@require_safe
@portal_user_required(PATIENT, DOCTOR)
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment(request, appointment_id)
    return page(request, "portal/appointment_detail.html", _detail_context(request, appointment))


def _refused(
    request: HttpRequest, appointment: Appointment, answer, form=None, form_name="cancel_form"
) -> HttpResponse:
    appointment.refresh_from_db()
    context = _detail_context(request, appointment)
    message, errors = refusal(answer.data)
    context["error"] = message or " ".join(m for msgs in errors.values() for m in msgs)
    if form is not None:
        context[form_name] = form
    return page(request, "portal/appointment_detail.html", context, status=answer.status_code)


@require_POST
@portal_user_required(PATIENT, DOCTOR)
def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """appointment_cancel: the patient's own up to the notice window; the doctor's too."""
    appointment = _appointment(request, appointment_id)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    url = reverse("portal:appointment", args=[appointment.pk])
    answer = keyed_write(
        request,
        lambda: (
            services.appointment_cancel(actor=request.user, appointment=appointment, reason=reason)
            and url
        ),
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    return _refused(request, appointment, answer, form)


@require_POST
@portal_user_required(DOCTOR)
def appointment_confirm(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment(request, appointment_id)
    url = reverse("portal:appointment", args=[appointment.pk])
    answer = keyed_write(
        request,
        lambda: services.appointment_confirm(actor=request.user, appointment=appointment) and url,
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    return _refused(request, appointment, answer)


@require_http_methods(["GET", "POST"])
@portal_user_required(PATIENT)
def appointment_reschedule(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """GET: the doctor's week of bookable slots (?week=); POST `time_block`: move there
    (appointment_reschedule, the notice window applies)."""
    appointment = _appointment(request, appointment_id)
    status = 200
    error = None
    if request.method == "POST":
        raw = request.POST.get("time_block", "")
        block = get_object_or_404(
            TimeBlock.objects.filter(withdrawn_at__isnull=True),
            pk=int(raw) if raw.isdigit() and len(raw) <= 18 else 0,
        )
        url = reverse("portal:appointment", args=[appointment.pk]) + "?moved=1"
        answer = keyed_write(
            request,
            lambda: (
                services.appointment_reschedule(
                    actor=request.user, appointment=appointment, time_block=block
                )
                and url
            ),
            lambda record: url,
        )
        if answer.status_code == 303:
            return see_other(answer.data["location"])
        message, errors = refusal(answer.data)
        error = message or " ".join(m for msgs in errors.values() for m in msgs)
        status = answer.status_code
        appointment.refresh_from_db()
    context = {
        "appointment": appointment,
        # A visit moves only to a block of its own type (general: an untagged one).
        "week": doctor_week(
            doctor_id=appointment.doctor_id,
            monday=week_monday(request),
            visit_type=appointment.visit_type or GENERAL_VISIT_TYPE,
        ),
        "slot_action": reverse("portal:appointment-reschedule", args=[appointment.pk]),
        "week_url": reverse("portal:appointment-reschedule", args=[appointment.pk]),
        "error": error,
        "notice_hours": settings.CANCELLATION_NOTICE_HOURS,
    }
    if request.htmx and request.htmx.target == "week":
        return page(request, "portal/_week.html", context)
    return page(request, "portal/appointment_reschedule.html", context, status=status)


@require_POST
@portal_user_required(PATIENT)
def appointment_review(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """review_create: the patient rates their own completed visit, once."""
    appointment = _appointment(request, appointment_id)
    form = ReviewForm(request.POST)
    url = reverse("portal:appointment", args=[appointment.pk])
    if not form.is_valid():
        context = _detail_context(request, appointment)
        context["review_form"] = form
        return page(request, "portal/appointment_detail.html", context, status=400)
    answer = keyed_write(
        request,
        lambda: (
            services.review_create(
                actor=request.user,
                appointment=appointment,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
            and url
        ),
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    return _refused(request, appointment, answer, form, "review_form")


def _own_review(request: HttpRequest, review_id: int) -> Review:
    """The signed-in patient's own review (another's, or a hidden one of another, is 404)."""
    return get_object_or_404(
        selectors.review_list_visible_to(user=request.user)
        .filter(author=request.user)
        .select_related("appointment"),
        pk=review_id,
    )


def _gone_with(write):
    """A review deleted by a concurrent request is 404 (as in the API)."""

    def run() -> str:
        try:
            return write()
        except Review.DoesNotExist as error:
            raise Http404 from error

    return run


@require_POST
@portal_user_required(PATIENT)
def review_edit(request: HttpRequest, review_id: int) -> HttpResponse:
    """review_update: the author changes the rating or the comment (for 7 days)."""
    review = _own_review(request, review_id)
    appointment = review.appointment
    form = ReviewForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, appointment)
        context["review_edit_form"] = form
        return page(request, "portal/appointment_detail.html", context, status=400)
    url = reverse("portal:appointment", args=[appointment.pk]) + "?reviewed=1"
    answer = keyed_write(
        request,
        _gone_with(
            lambda: (
                services.review_update(
                    actor=request.user,
                    review=review,
                    rating=form.cleaned_data["rating"],
                    comment=form.cleaned_data["comment"],
                )
                and url
            )
        ),
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    return _refused(request, appointment, answer, form, "review_edit_form")


@require_POST
@portal_user_required(PATIENT)
def review_delete(request: HttpRequest, review_id: int) -> HttpResponse:
    """review_delete: the author removes the review (for 7 days; its votes go with it)."""
    review = _own_review(request, review_id)
    appointment = review.appointment
    url = reverse("portal:appointment", args=[appointment.pk]) + "?review_deleted=1"

    def write() -> str:
        services.review_delete(actor=request.user, review=review)
        return url

    answer = keyed_write(request, _gone_with(write), lambda record: url)
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    return _refused(request, appointment, answer)
