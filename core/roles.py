"""The four roles of a user. Defined here, below every app, so that permissions and
services of any layer can name them; `accounts.models.User.Role` is this class."""

from django.db import models


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    DOCTOR = "doctor", "Doctor"
    STAFF = "staff", "Front desk"
    ADMIN = "admin", "Clinic admin"


# The clinic's own people: front-desk staff and admins (they act for any patient or doctor).
CLINIC_ROLES = (Role.STAFF, Role.ADMIN)
