"""Time block and appointment factories, one per lifecycle state."""

import datetime

import factory
from django.utils import timezone

from accounts.tests.factories import DoctorFactory, PatientFactory
from scheduling.models import Appointment, TimeBlock


def in_days(days: float, hour: int = 10) -> datetime.datetime:
    """An aware UTC datetime `days` from now at a fixed hour (minutes zeroed)."""
    moment = timezone.now() + datetime.timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


SEQUENCE_WRAP_HOURS = 192


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
