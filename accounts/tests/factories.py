"""User and doctor factories with role variants."""

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import DoctorProfile, User

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
