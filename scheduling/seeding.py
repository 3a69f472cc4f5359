"""Demo data: a small clinic built through the services, and synthetic load data at scale.

The demo clinic is idempotent: what exists is left alone, so a second run changes nothing.
Scale data (`--scale N`) is bulk-inserted without signals: being synthetic, it is exempt from
the audit trail and the field history.
"""

from __future__ import annotations

import datetime
import queue
import random
import re
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, connections, models, transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts.groups import FRONT_DESK_GROUP
from accounts.models import DoctorProfile, DoctorSpecialty, User
from core.exceptions import Conflict
from core.response_cache import ANY_AVAILABILITY, DIRECTORY, availability_scope, bump
from scheduling import services
from scheduling.models import Appointment, Review, TimeBlock, VisitType
from scheduling.services import templates as template_services

# Demo data only: printed on purpose so people can log in to the demo clinic.
DEMO_PASSWORD = "medappt-demo-2026"  # noqa: S105

DEMO_DOCTORS = [
    # email, first, last, specialty, location, timezone
    ("ana.garcia@demo.medappt", "Ana", "García", "Cardiology", "Madrid Centro", "Europe/Madrid"),
    ("james.okafor@demo.medappt", "James", "Okafor", "Dermatology", "Brooklyn", "America/New_York"),
    ("mei.tanaka@demo.medappt", "Mei", "Tanaka", "Pediatrics", "Shibuya", "Asia/Tokyo"),
    ("lucas.silva@demo.medappt", "Lucas", "Silva", "General practice", "Main clinic", "UTC"),
]
DEMO_PATIENTS = [
    ("paula.patient@demo.medappt", "Paula", "Patient"),
    ("peter.patient@demo.medappt", "Peter", "Patient"),
    ("priya.patient@demo.medappt", "Priya", "Patient"),
    ("omar.patient@demo.medappt", "Omar", "Patient"),
]
SPECIALTIES = [
    "Cardiology",
    "Dermatology",
    "Pediatrics",
    "General practice",
    "Neurology",
    "Orthopedics",
    "Ophthalmology",
    "Psychiatry",
]
ZONES = ["Europe/Madrid", "America/New_York", "Asia/Tokyo", "UTC", "Europe/London"]
FIRST = ["Ana", "Ben", "Carla", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivan", "Jin", "Kai", "Lea"]
LAST = ["Alvarez", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Gupta", "Haddad", "Ito", "Jones"]


def _user(
    email: str, first: str, last: str, role: str, password: str = DEMO_PASSWORD
) -> tuple[User, bool]:
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    return User.objects.create_user(
        email, password, first_name=first, last_name=last, role=role
    ), True


@transaction.atomic
def seed_demo_clinic(*, password: str = DEMO_PASSWORD) -> list[tuple[str, str]]:
    """The demo clinic: people, two weeks of blocks, appointments in every status, reviews;
    the accounts it creates get `password`."""
    logins: list[tuple[str, str]] = []
    admin, _ = _user("admin@demo.medappt", "Ada", "Admin", User.Role.ADMIN, password)
    logins.append(("admin", admin.email))
    desk, _ = _user("desk@demo.medappt", "Frank", "Desk", User.Role.STAFF, password)
    desk.groups.add(Group.objects.get(name=FRONT_DESK_GROUP))
    logins.append(("staff", desk.email))
    doctors = []
    for email, first, last, specialty, location, zone in DEMO_DOCTORS:
        doctor, _ = _user(email, first, last, User.Role.DOCTOR, password)
        profile, made = DoctorProfile.objects.get_or_create(
            user=doctor,
            defaults={
                "specialty": specialty,
                "location": location,
                "timezone": zone,
                "bio": f"{first} {last} practises {specialty.lower()} at {location}.",
                "license_number": f"DEMO-{doctor.pk:05d}",
            },
        )
        if made:
            DoctorSpecialty.objects.create(doctor=profile, name=specialty, position=0)
        doctors.append(doctor)
        logins.append(("doctor", doctor.email))
    patients = []
    for email, first, last in DEMO_PATIENTS:
        patient, _ = _user(email, first, last, User.Role.PATIENT, password)
        patients.append(patient)
        logins.append(("patient", patient.email))

    # Demo people get no mail: the services run with a backend that drops it.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        for offset, doctor in enumerate(doctors):
            if not TimeBlock.objects.filter(doctor=doctor).exists():
                _seed_doctor_schedule(admin=admin, doctor=doctor, patients=patients, offset=offset)
    return logins


# The demo's visit types: (slug, name, minutes, the weekday hours of its standing schedule).
DEMO_VISIT_TYPES = (
    ("first-consultation", "First consultation", 30, datetime.time(9, 0), datetime.time(11, 0)),
    ("follow-up", "Follow-up", 15, datetime.time(11, 0), datetime.time(12, 0)),
)
# General (untagged) blocks after them.
DEMO_GENERAL_HOURS = (datetime.time(12, 0), datetime.time(13, 0), 30)
WEEKDAYS_RULE = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def _demo_visit_types(admin: User) -> list[VisitType]:
    """The demo's visit types, made through the service once (found by slug afterwards)."""
    types = []
    for slug, name, minutes, _start, _end in DEMO_VISIT_TYPES:
        visit_type = VisitType.objects.filter(slug=slug).first() or services.visit_type_create(
            actor=admin, name=name, slug=slug, duration_minutes=minutes
        )
        types.append(visit_type)
    return types


def _seed_doctor_schedule(*, admin: User, doctor: User, patients: list[User], offset: int) -> None:
    """Standing weekday schedules in the doctor's timezone (first consultations, follow-ups,
    then general slots), materialised up to the horizon; one appointment in every status."""
    today = timezone.localdate()
    types = _demo_visit_types(admin)
    services.doctor_visit_types_set(actor=admin, doctor=doctor, visit_types=types)
    schedules = [
        (visit_type, start, end, None)
        for visit_type, (_slug, _name, _minutes, start, end) in zip(
            types, DEMO_VISIT_TYPES, strict=True
        )
    ]
    schedules.append((None, *DEMO_GENERAL_HOURS))
    for visit_type, start, end, minutes in schedules:
        spec = template_services.template_spec(
            doctor=doctor,
            rrule=WEEKDAYS_RULE,
            valid_from=today,
            valid_until=today + datetime.timedelta(days=365),
            start_time=start,
            end_time=end,
            slot_minutes=minutes,
            timezone_name=doctor.doctor_profile.timezone,
            visit_type=visit_type,
        )
        template_services.availability_template_create(actor=admin, spec=spec)
    bookable = list(
        TimeBlock.objects.filter(
            doctor=doctor, start__gte=timezone.now() + datetime.timedelta(days=2)
        ).order_by("start")
    )
    # Future: pending, confirmed, cancelled (each patient at different times).
    statuses = ["pending", "confirmed", "cancelled", "pending"]
    for index, status in enumerate(statuses):
        block = bookable[(index * 7 + offset * 3) % len(bookable)]
        patient = patients[(index + offset) % len(patients)]
        try:
            appointment = services.appointment_book(
                actor=admin, patient=patient, time_block=block, reason="Demo visit"
            )
        except Conflict:
            continue
        if status == "confirmed":
            services.appointment_confirm(actor=doctor, appointment=appointment)
        elif status == "cancelled":
            services.appointment_cancel(actor=patient, appointment=appointment, reason="Demo")
    # Past: completed (with a review), no-show. Past blocks cannot be booked through the
    # services, so these two visits are written as they would stand after the fact.
    for days_ago, status in ((7 + offset, "completed"), (14 + offset, "no_show")):
        start = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(
            days=days_ago
        )
        block = TimeBlock.objects.create(
            doctor=doctor, start=start, end=start + datetime.timedelta(minutes=30)
        )
        patient = patients[(days_ago + offset) % len(patients)]
        appointment = Appointment.objects.create(
            patient=patient,
            doctor=doctor,
            time_block=block,
            start=block.start,
            end=block.end,
            status=status,
            reason="Demo visit",
            confirmed_at=start - datetime.timedelta(days=1),
            completed_at=block.end if status == "completed" else None,
        )
        if status == "completed":
            services.review_create(
                actor=patient,
                appointment=appointment,
                rating=4 + offset % 2,
                comment="Kind and thorough.",
            )


# ---------------------------------------------------------------------------
# Scale data
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaleResult:
    doctors: int
    patients: int
    blocks: int
    appointments: int


SCALE_EMAIL = "doctor{index:05d}@scale.medappt"
SCALE_EMAIL_PATTERN = re.compile(r"^doctor(\d{5})@scale\.medappt$")
PATIENTS_PER_DOCTOR = 40
BATCH = 5000
# Doctors seeded at once on PostgreSQL, each on its own connection: the database's index
# upkeep (the GiST exclusion index of time blocks above all) is most of the cost and runs
# in parallel; Python waits on the socket without holding the GIL.
DEFAULT_WORKERS = 2


def _working_slots(
    zone: zoneinfo.ZoneInfo, first_day: datetime.date, days: int
) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
    """Weekday slots, 09:00 to 17:00 local in 30-minute blocks, as UTC instants."""
    slot = datetime.timedelta(minutes=30)
    for offset in range(days):
        day = first_day + datetime.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for half_hours in range(16):
            local = datetime.datetime.combine(day, datetime.time(9)) + half_hours * slot
            start = local.replace(tzinfo=zone).astimezone(datetime.UTC)
            yield start, start + slot


def _existing_scale_doctors() -> set[int]:
    emails = User.objects.filter(
        email__endswith="@scale.medappt", role=User.Role.DOCTOR
    ).values_list("email", flat=True)
    return {int(match[1]) for email in emails if (match := SCALE_EMAIL_PATTERN.match(email))}


def seed_scale(
    *,
    doctors: int,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 42,
    workers: int | None = None,
    password: str = DEMO_PASSWORD,
) -> ScaleResult:
    """N doctors with a year of blocks each (half past, half ahead) and realistic visits.

    Past blocks are mostly taken (completed, some no-shows and cancellations); the next
    weeks are partly booked (pending or confirmed, at most a few per patient); the rest is
    free. Each doctor has their own patients, so no patient has overlapping active visits.
    Each doctor is one transaction and its data depends only on (seed, index), so missing
    doctors are added whatever order or parallelism they were seeded in.
    """
    present = _existing_scale_doctors()
    todo = [index for index in range(doctors) if index not in present]
    totals = {"doctors": 0, "patients": 0, "blocks": 0, "appointments": 0}
    if not todo:
        return ScaleResult(**totals)
    context = {
        "seed": seed,
        "password": make_password(password),
        "now": timezone.now(),
        "first_day": timezone.localdate() - datetime.timedelta(days=182),
    }
    if workers is None:
        workers = DEFAULT_WORKERS if connection.vendor == "postgresql" else 1
    if connection.in_atomic_block:
        # Other connections could not see the caller's uncommitted rows (tests, callers in
        # a transaction): seed in this one.
        workers = 1
    lock = threading.Lock()
    done = [doctors - len(todo)]

    def seed_one(index: int) -> None:
        with transaction.atomic():
            counts = _seed_one_scale_doctor(index, **context)
        with lock:
            for key, value in counts.items():
                totals[key] += value
            done[0] += 1
            if progress is not None:
                progress(done[0], doctors)

    if workers <= 1:
        for index in todo:
            seed_one(index)
    else:
        _run_in_threads(seed_one, todo, workers=workers)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Fresh statistics, so the planner sees the bulk load (autovacuum would, later).
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE accounts_user, accounts_doctorprofile, scheduling_timeblock, "
                "scheduling_appointment, scheduling_review"
            )
    return ScaleResult(**totals)


def _run_in_threads(task: Callable[[int], None], items: list[int], *, workers: int) -> None:
    """Run task over items on `workers` threads, each with its own database connection;
    the first failure stops the others and is raised here."""
    pending = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not errors:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                task(item)
        except BaseException as error:  # re-raised in the calling thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _insert_rows(model: type[models.Model], fields: list[str], rows: list[tuple]) -> list[int]:
    """Insert rows (values of `fields`, in that order) and return their new ids, in order.

    On PostgreSQL the ids come from the table's sequence in one query and the rows go in
    with COPY, several times faster than INSERT for the big tables; elsewhere bulk_create.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=BATCH
        )
        return [obj.pk for obj in objects]
    from psycopg import sql

    table = model._meta.db_table
    columns = ["id", *(model._meta.get_field(name).column for name in fields)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with cursor.copy(statement) as copy:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row((pk, *row))
    return ids


BLOCK_FIELDS = ["doctor_id", "start", "end", "created_at"]
APPOINTMENT_FIELDS = [
    "patient_id",
    "doctor_id",
    "time_block_id",
    "start",
    "end",
    "status",
    "reason",
    "notes",
    "cancellation_reason",
    "cancellation_code",
    "created_at",
    "updated_at",
    "confirmed_at",
    "cancelled_at",
    "completed_at",
]


def _seed_one_scale_doctor(
    index: int,
    *,
    seed: int,
    password: str,
    now: datetime.datetime,
    first_day: datetime.date,
) -> dict[str, int]:
    rng = random.Random(f"{seed}-{index}")  # noqa: S311 - synthetic data, reproducible on purpose
    first, last = rng.choice(FIRST), rng.choice(LAST)
    # bulk_create even for one row: it sends no signals, so no field history (synthetic data).
    [doctor] = User.objects.bulk_create(
        [
            User(
                email=SCALE_EMAIL.format(index=index),
                first_name=first,
                last_name=f"{last}-{index}",
                role=User.Role.DOCTOR,
                password=password,
            )
        ]
    )
    zone_name = ZONES[index % len(ZONES)]
    [profile] = DoctorProfile.objects.bulk_create(
        [
            DoctorProfile(
                user=doctor,
                specialty=SPECIALTIES[index % len(SPECIALTIES)],
                location=f"Site {index % 17}",
                timezone=zone_name,
                bio="Synthetic load-test doctor.",
                license_number=f"SCALE-{index:05d}",
            )
        ]
    )
    DoctorSpecialty.objects.bulk_create(
        [DoctorSpecialty(doctor=profile, name=profile.specialty, position=0)]
    )
    patients = User.objects.bulk_create(
        [
            User(
                email=f"patient{index:05d}-{n:03d}@scale.medappt",
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                role=User.Role.PATIENT,
                password=password,
            )
            for n in range(PATIENTS_PER_DOCTOR)
        ]
    )
    slots = list(_working_slots(zoneinfo.ZoneInfo(zone_name), first_day, 365))
    block_ids = _insert_rows(
        TimeBlock, BLOCK_FIELDS, [(doctor.pk, start, end, now) for start, end in slots]
    )
    soon = now + datetime.timedelta(weeks=6)
    active_per_patient = dict.fromkeys(range(PATIENTS_PER_DOCTOR), 0)
    rows = []
    for block_id, (start, end) in zip(block_ids, slots, strict=True):
        patient_index = rng.randrange(PATIENTS_PER_DOCTOR)
        roll = rng.random()
        if start < now:
            if roll > 0.8:
                continue
            status = "completed" if roll < 0.7 else ("no_show" if roll < 0.75 else "cancelled")
        elif start < soon and roll < 0.3:
            if active_per_patient[patient_index] >= 3:
                continue
            active_per_patient[patient_index] += 1
            status = "confirmed" if roll < 0.2 else "pending"
        else:
            continue
        rows.append(
            (
                patients[patient_index].pk,
                doctor.pk,
                block_id,
                start,
                end,
                status,
                "Synthetic visit",
                "",
                "",
                "patient" if status == "cancelled" else "",
                now,
                now,
                start - datetime.timedelta(days=2)
                if status in ("confirmed", "completed", "no_show")
                else None,
                start - datetime.timedelta(days=1) if status == "cancelled" else None,
                end if status == "completed" else None,
            )
        )
    appointment_ids = _insert_rows(Appointment, APPOINTMENT_FIELDS, rows)
    completed = [
        (pk, row[0]) for pk, row in zip(appointment_ids, rows, strict=True) if row[5] == "completed"
    ]
    Review.objects.bulk_create(
        [
            Review(
                appointment_id=appointment_id,
                doctor=doctor,
                author_id=patient_id,
                rating=rng.choice([3, 4, 4, 5, 5]),
                comment="Synthetic review.",
            )
            for appointment_id, patient_id in rng.sample(completed, min(len(completed), 30))
        ]
    )
    # bulk_create and COPY send no signals: invalidate the cached public reads ourselves.
    bump(DIRECTORY, ANY_AVAILABILITY, availability_scope(doctor.pk))
    return {
        "doctors": 1,
        "patients": len(patients),
        "blocks": len(block_ids),
        "appointments": len(appointment_ids),
    }
