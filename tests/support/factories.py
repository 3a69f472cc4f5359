"""Factories with role variants: users and doctors, time blocks and appointments."""

import datetime

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import DoctorProfile, DoctorSpecialty, User
from scheduling.models import Appointment, DoctorVisitType, TimeBlock, VisitType

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = User.Role.PATIENT
    is_staff = factory.LazyAttribute(lambda o: User.role_flags(o.role)["is_staff"])
    is_superuser = factory.LazyAttribute(lambda o: User.role_flags(o.role)["is_superuser"])

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])


class PatientFactory(UserFactory):
    role = User.Role.PATIENT


class StaffFactory(UserFactory):
    role = User.Role.STAFF

    @factory.post_generation
    def front_desk(self, create, extracted, **kwargs):
        from django.contrib.auth.models import Group

        from accounts.groups import FRONT_DESK_GROUP

        if create:
            self.groups.add(Group.objects.get(name=FRONT_DESK_GROUP))


class AdminFactory(UserFactory):
    role = User.Role.ADMIN


class DoctorFactory(UserFactory):
    role = User.Role.DOCTOR

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if create:
            DoctorProfileFactory(user=self, **kwargs)


class DoctorProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DoctorProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=User.Role.DOCTOR)
    specialty = "Cardiology"
    bio = "Sees adults."
    license_number = factory.Sequence(lambda n: f"LIC-{n:05d}")
    location = "Main clinic"
    timezone = factory.LazyFunction(lambda: settings.TIME_ZONE)

    @factory.post_generation
    def specialties(self, create, extracted, **kwargs):
        """The specialty rows, as the services keep them: `specialties=[...]` or the one
        `specialty` (which then becomes the first of the list)."""
        if not create:
            return
        names = list(extracted or [self.specialty])
        if names[0] != self.specialty:
            self.specialty = names[0]
            self.save(update_fields=["specialty"])
        DoctorSpecialty.objects.bulk_create(
            DoctorSpecialty(doctor=self, name=name, position=i) for i, name in enumerate(names)
        )


class SuspendedPatientFactory(PatientFactory):
    suspended_at = factory.LazyFunction(timezone.now)
    suspension_reason = "Repeated no-shows"


class InactivePatientFactory(PatientFactory):
    is_active = False


class SuspendedDoctorFactory(DoctorFactory):
    suspended_at = factory.LazyFunction(timezone.now)
    suspension_reason = "Licence under review"


class InactiveDoctorFactory(DoctorFactory):
    is_active = False


def in_days(days: float, hour: int = 10) -> datetime.datetime:
    """An aware UTC datetime `days` from now at a fixed hour (minutes zeroed)."""
    moment = timezone.now() + datetime.timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


SEQUENCE_WRAP_HOURS = 192


class VisitTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VisitType

    name = factory.Sequence(lambda n: f"Visit type {n}")
    slug = factory.Sequence(lambda n: f"visit-type-{n}")
    duration_minutes = 20


class DoctorVisitTypeFactory(factory.django.DjangoModelFactory):
    """An offer: the doctor offers the visit type."""

    class Meta:
        model = DoctorVisitType

    doctor = factory.SubFactory(DoctorFactory)
    visit_type = factory.SubFactory(VisitTypeFactory)


class TimeBlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeBlock
        skip_postgeneration_save = True

    doctor = factory.SubFactory(DoctorFactory)
    # The sequence counter is shared by every subclass and grows over the whole session:
    # wrap it, so a default block stays 3 to 11 days ahead (inside the default 14-day
    # availability window) and a past one stays past. A test making more than
    # SEQUENCE_WRAP_HOURS blocks for one doctor must give `start` itself.
    start = factory.Sequence(
        lambda n: in_days(3) + datetime.timedelta(hours=n % SEQUENCE_WRAP_HOURS)
    )
    end = factory.LazyAttribute(lambda o: o.start + datetime.timedelta(minutes=30))


class PastTimeBlockFactory(TimeBlockFactory):
    start = factory.Sequence(lambda n: in_days(-3) + datetime.timedelta(hours=n % 48))


class WithdrawnTimeBlockFactory(TimeBlockFactory):
    withdrawn_at = factory.LazyFunction(timezone.now)


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    time_block = factory.SubFactory(TimeBlockFactory)
    doctor = factory.SelfAttribute("time_block.doctor")
    start = factory.SelfAttribute("time_block.start")
    end = factory.SelfAttribute("time_block.end")
    status = Appointment.Status.PENDING
    reason = "Chest pain when climbing stairs"


class PendingAppointmentFactory(AppointmentFactory):
    status = Appointment.Status.PENDING


class ConfirmedAppointmentFactory(AppointmentFactory):
    status = Appointment.Status.CONFIRMED
    confirmed_at = factory.LazyFunction(timezone.now)


class CancelledAppointmentFactory(AppointmentFactory):
    status = Appointment.Status.CANCELLED
    cancelled_at = factory.LazyFunction(timezone.now)
    cancellation_reason = "Cannot make it"


class CompletedAppointmentFactory(AppointmentFactory):
    time_block = factory.SubFactory(PastTimeBlockFactory)
    status = Appointment.Status.COMPLETED
    confirmed_at = factory.LazyFunction(timezone.now)
    completed_at = factory.LazyFunction(timezone.now)


class NoShowAppointmentFactory(AppointmentFactory):
    time_block = factory.SubFactory(PastTimeBlockFactory)
    status = Appointment.Status.NO_SHOW
    confirmed_at = factory.LazyFunction(timezone.now)


class StartedConfirmedAppointmentFactory(ConfirmedAppointmentFactory):
    """A confirmed visit whose start has passed: ready to be completed or marked a no-show."""

    time_block = factory.SubFactory(PastTimeBlockFactory)
