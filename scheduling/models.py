"""Time blocks doctors publish and the appointments patients book in them (docs/api-rules.md).

The database holds the invariants: a block ends after it starts; one unwithdrawn block per
doctor and start; at most one active appointment per block. On PostgreSQL, exclusion
constraints (migration 0002) also forbid overlapping blocks of one doctor and overlapping
active appointments of one patient.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

# The status sets (docs/api-rules.md, lifecycle). ACTIVE: the appointment holds its slot
# (one per block, the patient's overlap and cap, availability, deactivation).
ACTIVE_STATUSES = ("pending", "confirmed", "arrived")
# What a patient (or the doctor) may still cancel or reschedule.
PATIENT_CANCELLABLE = ("pending", "confirmed")
# What the clinic (staff, admins, the system) may cancel: an arrived patient may leave unseen.
CLINIC_CANCELLABLE = ("pending", "confirmed", "arrived")


# The reserved name of "no visit type": untagged blocks and appointments (visit_type null).
GENERAL_VISIT_TYPE = "general"


class VisitType(models.Model):
    """A kind of visit the clinic offers (first consultation, follow-up): a tagged block lasts
    its duration. No prices. Deactivated, it is offered no more; tagged rows keep it."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    duration_minutes = models.PositiveSmallIntegerField()
    # Blank: a doctor of any specialty may offer it.
    specialty = models.CharField(max_length=100, blank=True, default="")
    description = models.TextField(max_length=1000, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=720),
                name="visit_type_duration_5_to_720",
            ),
            models.CheckConstraint(
                condition=~Q(slug=GENERAL_VISIT_TYPE), name="visit_type_slug_not_general"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"


class DoctorVisitType(models.Model):
    """A doctor offers a visit type. Withdrawn offers stay as inactive rows (history)."""

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="visit_type_offers",
        db_index=False,  # the unique (doctor, visit_type) index serves it
    )
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="offers")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["doctor_id", "visit_type_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["doctor", "visit_type"], name="doctor_visit_type_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Doctor {self.doctor_id} offers visit type {self.visit_type_id}"


class AvailabilityTemplate(models.Model):
    """A doctor's standing schedule: on the days an RRULE (a checked subset) gives between
    valid_from and valid_until, slots of slot_minutes from start_time to end_time, local time
    in `timezone`. Materialised into blocks up to AVAILABILITY_HORIZON_DAYS ahead."""

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="availability_templates",
        db_index=False,  # the (doctor, active) index serves it
    )
    rrule = models.CharField(max_length=500)
    valid_from = models.DateField()
    valid_until = models.DateField()
    start_time = models.TimeField()
    end_time = models.TimeField()
    visit_type = models.ForeignKey(
        VisitType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    slot_minutes = models.PositiveSmallIntegerField()
    timezone = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["doctor_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gte=F("valid_from")),
                name="availability_template_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="availability_template_times_ordered",
            ),
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5) & Q(slot_minutes__lte=720),
                name="availability_template_slot_5_to_720",
            ),
        ]
        indexes = [
            models.Index(fields=["doctor", "active"], name="avail_template_doctor_idx"),
        ]

    def __str__(self) -> str:
        return f"Template {self.pk} of doctor {self.doctor_id}: {self.rrule}"


class AvailabilityException(models.Model):
    """One date of a template: closed (no slots), or custom hours instead of its own."""

    class Kind(models.TextChoices):
        CLOSED = "closed", "Closed"
        CUSTOM = "custom", "Custom hours"

    template = models.ForeignKey(
        AvailabilityTemplate, on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "date"], name="availability_exception_one_per_date"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="closed", start_time__isnull=True, end_time__isnull=True)
                    | Q(kind="custom", end_time__gt=F("start_time"))
                ),
                name="availability_exception_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.date} (template {self.template_id})"


class TimeBlock(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        BULK = "bulk", "Bulk"
        TEMPLATE = "template", "Template"

    # No single-column index: a doctor's unwithdrawn blocks are found through the (doctor,
    # start) unique index below, by start range, however long the doctor's history grows.
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="time_blocks",
        db_index=False,
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Null: general. The (visit_type, start) index below serves the foreign key.
    visit_type = models.ForeignKey(
        VisitType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="time_blocks",
        db_index=False,
    )
    # The template that made it (null: made by hand or in bulk, or its template was deleted).
    template = models.ForeignKey(
        AvailabilityTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="time_blocks",
        db_index=False,  # the (template, start) index below serves it
    )
    source = models.CharField(
        max_length=8, choices=Source.choices, default=Source.MANUAL, db_default="manual"
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="time_block_end_after_start"
            ),
            # Also the index behind a doctor's availability and block list (start-ordered).
            models.UniqueConstraint(
                fields=["doctor", "start"],
                condition=Q(withdrawn_at__isnull=True),
                name="time_block_doctor_start_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["start", "id"],
                condition=Q(withdrawn_at__isnull=True),
                name="time_block_start_idx",
            ),
            # visit_type=<type> on the clinic-wide block list, in start order.
            models.Index(
                fields=["visit_type", "start", "id"],
                condition=Q(withdrawn_at__isnull=True, visit_type__isnull=False),
                name="time_block_visit_type_idx",
            ),
            # A template's blocks, when it is edited or materialised again.
            models.Index(
                fields=["template", "start"],
                condition=Q(template__isnull=False),
                name="time_block_template_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Block {self.pk} of doctor {self.doctor_id} at {self.start:%Y-%m-%d %H:%M}Z"


class CancellationCode(models.TextChoices):
    PATIENT = "patient", "Cancelled by the patient"
    PROVIDER = "provider", "Cancelled by the provider"
    CLINIC = "clinic", "Cancelled by the clinic"
    EXPIRED = "expired", "Expired unconfirmed"
    DEACTIVATED = "deactivated", "Account deactivated"
    LEAVE = "leave", "Doctor on leave"
    LEFT_UNSEEN = "left_unseen", "Left without being seen"


class Appointment(models.Model):
    CancellationCode = CancellationCode

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        ARRIVED = "arrived", "Arrived"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "No-show"

    # No single-column indexes: the composite (patient, start, id) and (doctor, start, id)
    # indexes below serve these foreign keys too, and each index slows every insert.
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="appointments",
        db_index=False,
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="doctor_appointments",
        db_index=False,
    )
    time_block = models.ForeignKey(TimeBlock, on_delete=models.PROTECT, related_name="appointments")
    # Copied from the block, so overlap rules and date queries need no join.
    start = models.DateTimeField()
    # Copied from the block at booking (null: general); a reschedule keeps it. No index:
    # lists filter by patient, doctor or status first.
    visit_type = models.ForeignKey(
        VisitType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(max_length=1000, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    cancellation_reason = models.CharField(max_length=500, blank=True)
    # Who ended it, for the statistics: late cancellations are the patient's and provider's
    # own, never the system's, a deactivation's or the clinic's.
    cancellation_code = models.CharField(
        max_length=16, choices=CancellationCode.choices, blank=True, default=""
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rescheduled_from = models.ForeignKey(
        TimeBlock, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # iCalendar SEQUENCE of the feed's and the invites' event: +1 on confirm, reschedule, cancel.
    ical_sequence = models.PositiveIntegerField(default=0, db_default=0)
    # The front desk's day (check-in, start of the visit): the waits in the statistics.
    arrived_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    # No index: nothing looks appointments up by who checked them in.
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="appointment_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "confirmed",
                        "arrived",
                        "cancelled",
                        "completed",
                        "no_show",
                    ]
                ),
                name="appointment_status_valid",
            ),
            # A cancelled slot can be booked again; an active one cannot.
            models.UniqueConstraint(
                fields=["time_block"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="appointment_one_active_per_block",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "start", "id"], name="appointment_patient_start_idx"),
            models.Index(fields=["doctor", "start", "id"], name="appointment_doctor_start_idx"),
            models.Index(fields=["start", "id"], name="appointment_start_idx"),
            # Status filters in start order (staff lists, reminders, expiry): range and order
            # straight from the index.
            models.Index(fields=["status", "start", "id"], name="appointment_status_order_idx"),
            models.Index(fields=["created_at", "id"], name="appointment_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Appointment {self.pk} ({self.status}) at {self.start:%Y-%m-%d %H:%M}Z"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Review(models.Model):
    """A patient's review of one completed visit."""

    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="review")
    # Copied from the appointment so ratings aggregate per doctor without a join.
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_received"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_written"
    )
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            ),
        ]
        indexes = [
            models.Index(
                fields=["doctor", "-created_at", "id"],
                condition=Q(hidden_at__isnull=True),
                name="review_doctor_visible_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Review {self.pk} ({self.rating}/5) of doctor {self.doctor_id}"


class ReviewVote(models.Model):
    """One patient's helpful (+1) or unhelpful (-1) vote on a review."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_votes"
    )
    value = models.SmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "voter"], name="review_vote_once"),
            models.CheckConstraint(condition=Q(value__in=[-1, 1]), name="review_vote_value"),
        ]

    def __str__(self) -> str:
        return f"Vote {self.value:+d} on review {self.review_id}"


# What a slot hold is made of: open = neither released nor converted; live = open and unexpired.
OPEN_HOLD = Q(released_at__isnull=True, converted_at__isnull=True)


class SlotHold(models.Model):
    """A patient keeps a block for HOLD_TTL_SECONDS while deciding; booking it converts the
    hold. Expiry is by time: an expired open hold is closed (by the system) by the next write
    that locks its block, or by the expire_holds job."""

    class ReleaseReason(models.TextChoices):
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    class Status(models.TextChoices):  # derived, never stored
        LIVE = "live", "Live"
        EXPIRED = "expired", "Expired"
        RELEASED = "released", "Released"
        CONVERTED = "converted", "Converted"

    time_block = models.ForeignKey(TimeBlock, on_delete=models.PROTECT, related_name="holds")
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Null for a hold the waitlist makes for an offer.
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="slot_holds",
        db_index=False,
    )
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(
        max_length=16, choices=ReleaseReason.choices, blank=True, default=""
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["time_block"], condition=OPEN_HOLD, name="slot_hold_one_open_per_block"
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="slot_hold_patient_idx"),
            models.Index(fields=["expires_at"], condition=OPEN_HOLD, name="slot_hold_open_idx"),
        ]

    def __str__(self) -> str:
        return f"Hold {self.pk} of block {self.time_block_id} until {self.expires_at:%H:%M:%S}Z"

    def status_at(self, now) -> str:
        if self.converted_at is not None:
            return self.Status.CONVERTED
        if self.released_at is not None:
            if self.release_reason == self.ReleaseReason.EXPIRED:
                return self.Status.EXPIRED
            return self.Status.RELEASED
        return self.Status.LIVE if self.expires_at > now else self.Status.EXPIRED


# A waitlist entry that still waits: one per (patient, doctor or specialty), and these count
# toward WAITLIST_MAX_ACTIVE_PER_PATIENT.
LIVE_ENTRY_STATUSES = ("active", "offered")


class WaitlistEntry(models.Model):
    """A patient waits for a free block of one doctor, or of any doctor of one specialty, in
    a date range, on some weekdays, between some times (the doctor's zone; specialty entries:
    TIME_ZONE). The waitlist offers them the blocks that free up (docs/api-rules.md)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        OFFERED = "offered", "Offered"
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        db_index=False,
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waitlisted_by",
        db_index=False,
    )
    specialty = models.CharField(max_length=100, blank=True, default="")
    # Null: any block (general or tagged) fits.
    visit_type = models.ForeignKey(
        VisitType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    date_from = models.DateField()
    date_to = models.DateField()
    # 0 = Monday; empty = any weekday.
    weekdays = models.JSONField(default=list, blank=True)
    time_from = models.TimeField(null=True, blank=True)
    time_to = models.TimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    missed_offers = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(doctor__isnull=False) & Q(specialty=""))
                | (Q(doctor__isnull=True) & ~Q(specialty="")),
                name="waitlist_entry_doctor_xor_specialty",
            ),
            models.CheckConstraint(
                condition=Q(date_to__gte=F("date_from")), name="waitlist_entry_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "offered", "booked", "cancelled", "expired"]),
                name="waitlist_entry_status_valid",
            ),
            models.UniqueConstraint(
                fields=["patient", "doctor"],
                condition=Q(status__in=LIVE_ENTRY_STATUSES, doctor__isnull=False),
                name="waitlist_entry_one_live_per_doctor",
            ),
            models.UniqueConstraint(
                Lower("specialty"),
                "patient",
                condition=Q(status__in=LIVE_ENTRY_STATUSES, doctor__isnull=True),
                name="waitlist_entry_one_live_per_specialty",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="waitlist_entry_patient_idx"),
            # The FIFO candidates of a freed block: live entries in (created_at, id) order.
            models.Index(
                fields=["created_at", "id"],
                condition=Q(status="active"),
                name="waitlist_entry_fifo_idx",
            ),
        ]

    def __str__(self) -> str:
        target = f"doctor {self.doctor_id}" if self.doctor_id else self.specialty
        return f"Waitlist entry {self.pk} of patient {self.patient_id} for {target}"


class WaitlistOffer(models.Model):
    """A freed block offered to a waiting patient; the offers of one round share one hold
    (patient null) that ends the round when it expires."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        SUPERSEDED = "superseded", "Superseded"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    time_block = models.ForeignKey(
        TimeBlock, on_delete=models.PROTECT, related_name="waitlist_offers"
    )
    hold = models.ForeignKey(SlotHold, on_delete=models.PROTECT, related_name="waitlist_offers")
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "time_block"], name="waitlist_offer_once_per_block"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["pending", "accepted", "declined", "expired", "superseded"]
                ),
                name="waitlist_offer_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="waitlist_offer_due_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk} of block {self.time_block_id} to entry {self.entry_id}"


# What a leave is for (DESIGN-R2 R2-11): a doctor's, or a clinic closure's (doctor null).
DOCTOR_LEAVE_CATEGORIES = ("vacation", "sick", "training", "other")
CLOSURE_CATEGORIES = ("holiday", "other")


class Leave(models.Model):
    """A doctor's leave, or a clinic closure (doctor null, admins only): while it is active
    (uncancelled) no block of its doctor (a closure: of any doctor) inside it is bookable.
    On PostgreSQL an exclusion constraint (migration) forbids two active leaves of one doctor,
    or two active closures, that overlap; a closure may overlap a doctor's leave."""

    class Category(models.TextChoices):
        VACATION = "vacation", "Vacation"
        SICK = "sick", "Sick leave"
        TRAINING = "training", "Training"
        HOLIDAY = "holiday", "Holiday"
        OTHER = "other", "Other"

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leaves",
        db_index=False,
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    category = models.CharField(max_length=16, choices=Category.choices)
    note = models.CharField(max_length=500, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="leave_end_after_start"),
            models.CheckConstraint(
                condition=(Q(doctor__isnull=False) & Q(category__in=DOCTOR_LEAVE_CATEGORIES))
                | (Q(doctor__isnull=True) & Q(category__in=CLOSURE_CATEGORIES)),
                name="leave_category_valid",
            ),
        ]
        indexes = [
            # The bookable predicate's NOT EXISTS: the active leaves of one doctor (or the
            # closures, doctor IS NULL) that end after a block starts.
            models.Index(
                fields=["doctor", "end", "start"],
                condition=Q(cancelled_at__isnull=True),
                name="leave_active_doctor_end_idx",
            ),
            models.Index(fields=["start", "id"], name="leave_start_idx"),
        ]

    def __str__(self) -> str:
        who = f"doctor {self.doctor_id}" if self.doctor_id else "the clinic"
        return f"Leave {self.pk} of {who} from {self.start:%Y-%m-%d %H:%M}Z"

    @property
    def is_closure(self) -> bool:
        return self.doctor_id is None

    @property
    def is_active(self) -> bool:
        return self.cancelled_at is None
