"""Time blocks and appointments in the staff console; every write goes through the services."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User, validate_timezone
from audit.admin import PatientReadsAuditedAdmin
from core.admin import ServiceBackedAdmin, is_autocomplete_for, rule_message
from core.exceptions import Conflict
from scheduling import selectors, services
from scheduling.admin_week import week_url
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    Review,
    SlotHold,
    TimeBlock,
    VisitType,
)

# ---------------------------------------------------------------------------
# Time blocks
# ---------------------------------------------------------------------------
WEEKDAY_CHOICES = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class TimeBlockWeekForm(forms.ModelForm):
    """Creates a pattern of blocks (by default a working week) through the bulk service."""

    date_from = forms.DateField(initial=lambda: timezone.localdate() + datetime.timedelta(days=1))
    date_to = forms.DateField(initial=lambda: timezone.localdate() + datetime.timedelta(days=7))
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        initial=[0, 1, 2, 3, 4],
        widget=forms.CheckboxSelectMultiple,
    )
    start_time = forms.TimeField(initial=datetime.time(9, 0), input_formats=["%H:%M"])
    end_time = forms.TimeField(initial=datetime.time(13, 0), input_formats=["%H:%M"])
    slot_minutes = forms.IntegerField(
        min_value=5,
        max_value=720,
        initial=30,
        required=False,
        help_text="With a visit type: its duration (leave empty).",
    )
    visit_type = forms.ModelChoiceField(
        queryset=VisitType.objects.filter(active=True),
        required=False,
        help_text="Empty: general blocks. The doctor must offer the type.",
    )
    timezone = forms.CharField(
        required=False,
        validators=[validate_timezone],
        help_text="IANA name; empty means the doctor's own timezone.",
    )

    class Meta:
        model = TimeBlock
        fields = ["doctor"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = User.objects.filter(
            role=User.Role.DOCTOR, is_active=True
        ).order_by("last_name", "first_name")

    def clean(self) -> dict:
        """The pattern's own rules, shown on the form (the service checks them again)."""
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to:
            if date_to < date_from:
                self.add_error("date_to", "Must not be before the first date.")
            elif (date_to - date_from).days > services.MAX_BULK_DAYS:
                self.add_error("date_to", f"At most {services.MAX_BULK_DAYS} days after the first.")
        start_time, end_time = data.get("start_time"), data.get("end_time")
        if start_time and end_time and end_time <= start_time:
            self.add_error("end_time", "Must be after the start time.")
        return data


class TimeBlockChangeForm(forms.ModelForm):
    class Meta:
        model = TimeBlock
        fields = ["start", "end"]


@admin.register(TimeBlock)
class TimeBlockAdmin(ServiceBackedAdmin, admin.ModelAdmin):
    list_display = ["id", "doctor", "start", "end", "is_booked", "withdrawn_at", "week"]
    list_filter = [("doctor", admin.RelatedOnlyFieldListFilter), "start", "withdrawn_at"]
    search_fields = ["doctor__email", "doctor__last_name", "doctor__first_name"]
    date_hierarchy = "start"
    list_select_related = ["doctor"]
    ordering = ["start", "id"]
    actions = ["delete_selected"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                booked=Exists(
                    Appointment.objects.filter(
                        time_block=OuterRef("pk"), status__in=ACTIVE_STATUSES
                    )
                )
            )
        )

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if is_autocomplete_for(request, "appointment", "time_block"):
            # The booking form offers only blocks that are still free and ahead.
            queryset = queryset.filter(
                withdrawn_at__isnull=True, start__gt=timezone.now(), booked=False
            ).exclude(selectors.in_active_leave())
        return queryset, may_have_duplicates

    @admin.display(boolean=True, description="booked", ordering="booked")
    def is_booked(self, block: TimeBlock) -> bool:
        return block.booked

    @admin.display(description="doctor's week")
    def week(self, block: TimeBlock) -> str:
        day = timezone.localtime(block.start).date()
        return format_html('<a href="{}">week</a>', week_url(block.doctor_id, day))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TimeBlockChangeForm if obj else TimeBlockWeekForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "doctor",
                "date_from",
                "date_to",
                "weekdays",
                "start_time",
                "end_time",
                "slot_minutes",
                "visit_type",
                "timezone",
            ]
        return ["doctor", "start", "end", "visit_type", "withdrawn_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["doctor", "visit_type", "withdrawn_at"] if obj else []

    def get_deleted_objects(self, objs, request):
        # The service decides, not Django's collector (which calls every block an appointment
        # ever used "protected"): a never-used block is deleted, a used one withdrawn, one
        # with an active appointment refused with a message.
        objs = list(objs)
        return [str(obj) for obj in objs], {self.opts.verbose_name_plural: len(objs)}, set(), []

    def save_model(self, request, obj, form, change) -> None:
        if change:
            fresh = TimeBlock.objects.get(pk=obj.pk)
            updated = self.call(
                services.time_block_update,
                actor=request.user,
                block=fresh,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
            )
            obj.start, obj.end = updated.start, updated.end
            return
        data = form.cleaned_data
        result = self.call(
            services.time_block_bulk_create,
            actor=request.user,
            doctor=data["doctor"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            weekdays=data["weekdays"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            slot_minutes=data.get("slot_minutes"),
            timezone_name=data.get("timezone") or None,
            visit_type=data.get("visit_type"),
        )
        # Per request: the ModelAdmin instance is shared by every request and thread.
        request._bulk_result = result
        # The admin wants an object to point at: the doctor's first new block, if any.
        first = (
            TimeBlock.objects.filter(doctor=data["doctor"], withdrawn_at__isnull=True)
            .order_by("-created_at", "start")
            .first()
        )
        obj.pk = first.pk if first else None

    def response_add(self, request, obj, post_url_continue=None):
        result = request._bulk_result
        self.message_user(
            request,
            f"Created {result.created} blocks ({result.skipped} skipped of {result.total}).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect("../")

    def log_addition(self, request, obj, message):
        return None  # the bulk service writes the audit trail

    def delete_model(self, request, obj) -> None:
        request._block_outcome = self.call(
            services.time_block_delete, actor=request.user, block=obj
        )

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "_block_outcome", None) != "withdrawn":
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(
            request,
            f"{obj_display} was withdrawn: appointments used it, so it stays in their history.",
            messages.SUCCESS,
        )
        changelist = reverse(
            "admin:scheduling_timeblock_changelist", current_app=self.admin_site.name
        )
        return HttpResponseRedirect(
            add_preserved_filters(
                {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts},
                changelist,
            )
        )

    @admin.action(
        description="Delete selected time blocks (withdraw used ones)", permissions=["delete"]
    )
    def delete_selected(self, request, queryset):
        """Django's confirmation page first; then each block through the service."""
        if not request.POST.get("post"):
            return django_delete_selected(self, request, queryset)
        outcomes = {"deleted": 0, "withdrawn": 0}
        refused = []
        for block in queryset:
            try:
                outcomes[services.time_block_delete(actor=request.user, block=block)] += 1
            except (Conflict, ValidationError) as error:
                refused.append(f"Block {block.pk}: {rule_message(error)}")
        if outcomes["deleted"] or outcomes["withdrawn"]:
            self.message_user(
                request,
                f"{outcomes['deleted']} block(s) deleted, {outcomes['withdrawn']} withdrawn.",
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.ERROR)
        return None


# ---------------------------------------------------------------------------
# Appointments
# ---------------------------------------------------------------------------
class AppointmentActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(
        required=False, max_length=500, help_text="Cancellation reason (for cancel)."
    )


class AppointmentBookForm(forms.ModelForm):
    class Meta:
        model = Appointment
        fields = ["patient", "time_block", "reason"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = User.objects.filter(role=User.Role.PATIENT)
        self.fields["time_block"].queryset = TimeBlock.objects.filter(
            withdrawn_at__isnull=True, start__gt=timezone.now()
        )


class AppointmentNotesForm(forms.ModelForm):
    class Meta:
        model = Appointment
        fields = ["reason", "notes"]


@admin.register(Appointment)
class AppointmentAdmin(PatientReadsAuditedAdmin, ServiceBackedAdmin, admin.ModelAdmin):
    list_display = ["id", "start", "doctor", "patient", "status", "created_at"]
    list_filter = ["status", ("doctor", admin.RelatedOnlyFieldListFilter), "start"]
    search_fields = [
        "patient__email",
        "patient__first_name",
        "patient__last_name",
        "doctor__last_name",
    ]
    date_hierarchy = "start"
    list_select_related = ["patient", "doctor"]
    ordering = ["start", "id"]
    autocomplete_fields = ["patient", "time_block"]
    action_form = AppointmentActionForm
    actions = ["confirm", "cancel", "complete", "no_show"]

    readonly_fields = [
        "patient",
        "doctor",
        "time_block",
        "start",
        "end",
        "status",
        "cancellation_reason",
        "cancelled_by",
        "rescheduled_from",
        "created_at",
        "updated_at",
        "confirmed_at",
        "cancelled_at",
        "completed_at",
        "reminder_sent_at",
        "arrived_at",
        "seen_at",
        "checked_in_by",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = AppointmentNotesForm if obj else AppointmentBookForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["patient", "time_block", "reason"]
        return ["reason", "notes", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # appointments are never deleted; cancel them

    def has_complete_permission(self, request) -> bool:
        return request.user.role == User.Role.ADMIN  # completing is the doctor's or an admin's

    def save_model(self, request, obj, form, change) -> None:
        if change:
            self.call(
                services.appointment_update,
                actor=request.user,
                appointment=obj,
                reason=form.cleaned_data.get("reason"),
                notes=form.cleaned_data.get("notes"),
            )
            return
        booked = self.call(
            services.appointment_book,
            actor=request.user,
            patient=form.cleaned_data["patient"],
            time_block=form.cleaned_data["time_block"],
            reason=form.cleaned_data.get("reason", ""),
        )
        for model_field in Appointment._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(booked, model_field.attname))
        obj._state.adding = False

    def log_addition(self, request, obj, message):
        return None  # the booking service writes the audit trail

    def log_change(self, request, obj, message):
        return None

    # -- reads of patient records are audited, here as in the API ---------------------
    def patient_ids_shown(self, objs) -> list[int]:
        return [appointment.patient_id for appointment in objs]

    # -- lifecycle actions ---------------------------------------------------------------
    def _run(self, request, queryset, service, done: str, **kwargs) -> None:
        self.run_action(
            request,
            queryset,
            service,
            argument="appointment",
            done=f"appointment(s) {done}",
            label=lambda appointment: f"#{appointment.pk}",
            **kwargs,
        )

    @admin.action(description="Confirm selected appointments", permissions=["change"])
    def confirm(self, request, queryset) -> None:
        self._run(request, queryset, services.appointment_confirm, "confirmed")

    @admin.action(description="Cancel selected appointments (with reason)", permissions=["change"])
    def cancel(self, request, queryset) -> None:
        reason = request.POST.get("reason", "")[:500]
        self._run(request, queryset, services.appointment_cancel, "cancelled", reason=reason)

    @admin.action(description="Mark selected appointments completed", permissions=["complete"])
    def complete(self, request, queryset) -> None:
        self._run(request, queryset, services.appointment_complete, "completed")

    @admin.action(description="Mark selected appointments as no-show", permissions=["change"])
    def no_show(self, request, queryset) -> None:
        self._run(request, queryset, services.appointment_no_show, "marked no-show")


# ---------------------------------------------------------------------------
# Reviews: staff moderation (hide / unhide through the review services)
# ---------------------------------------------------------------------------
class ReviewHiddenFilter(admin.SimpleListFilter):
    title = "hidden"
    parameter_name = "hidden"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Hidden"), ("no", "Visible")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


@admin.register(Review)
class ReviewAdmin(PatientReadsAuditedAdmin, ServiceBackedAdmin, admin.ModelAdmin):
    """Staff read reviews and hide or unhide them; nobody edits a patient's words here."""

    list_display = ["id", "doctor", "author", "rating", "comment_excerpt", "created_at", "hidden"]
    list_filter = [ReviewHiddenFilter, "rating"]
    search_fields = [
        "comment",
        "doctor__first_name",
        "doctor__last_name",
        "author__first_name",
        "author__last_name",
        "author__email",
    ]
    list_select_related = ["doctor", "author"]
    ordering = ["-created_at", "id"]
    fields = [
        "appointment",
        "doctor",
        "author",
        "rating",
        "comment",
        "created_at",
        "updated_at",
        "hidden_at",
    ]
    readonly_fields = fields
    actions = ["hide", "unhide"]

    @admin.display(description="comment")
    def comment_excerpt(self, review: Review) -> str:
        return review.comment if len(review.comment) <= 80 else f"{review.comment[:79]}…"

    @admin.display(description="hidden", boolean=True)
    def hidden(self, review: Review) -> bool:
        return review.hidden_at is not None

    def patient_ids_shown(self, objs) -> list[int]:
        return [review.author_id for review in objs]  # the author's name, email and words

    def has_add_permission(self, request) -> bool:
        return False  # reviews come from patients through the API

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # moderation hides; only the author deletes (within 7 days)

    def _moderate(self, request, queryset, service, done: str) -> None:
        count = 0
        for review in queryset:
            try:
                self.call(service, actor=request.user, review=review)
            except Review.DoesNotExist:  # its author deleted it meanwhile: nothing to moderate
                continue
            count += 1
        self.message_user(request, f"{count} review(s) {done}.", messages.SUCCESS)

    @admin.action(description="Hide selected reviews", permissions=["change"])
    def hide(self, request, queryset) -> None:
        self._moderate(request, queryset, services.review_hide, "hidden")

    @admin.action(description="Unhide selected reviews", permissions=["change"])
    def unhide(self, request, queryset) -> None:
        self._moderate(request, queryset, services.review_unhide, "unhidden")


@admin.register(SlotHold)
class SlotHoldAdmin(PatientReadsAuditedAdmin, admin.ModelAdmin):
    """Slot holds, read-only: who kept which block until when, and how each ended. Holds are
    made and released through the API (services.slot_hold_*), never edited here."""

    list_display = ("id", "time_block", "patient", "expires_at", "released_at", "converted_at")
    list_filter = ("release_reason",)
    list_select_related = ("time_block", "patient")
    ordering = ("-id",)
    fields = (
        "time_block",
        "doctor",
        "patient",
        "created_at",
        "expires_at",
        "released_at",
        "release_reason",
        "converted_at",
        "appointment",
    )
    readonly_fields = fields

    def patient_ids_shown(self, objs) -> list[int]:
        return [hold.patient_id for hold in objs]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The waitlist's pages (scheduling/admin_waitlist.py); imported last, as it reuses this module.
from scheduling import (  # noqa: E402, F401
    admin_leave,
    admin_templates,
    admin_visit_types,
    admin_waitlist,
)
