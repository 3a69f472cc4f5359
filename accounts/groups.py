"""The "Front desk" group: what role staff may do in the Django admin."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

FRONT_DESK_GROUP = "Front desk"

# (app_label, codename): view and book appointments, manage blocks, view doctors and
# patients, add patients. Changing or suspending users and the audit log stay with admins.
FRONT_DESK_PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "add_user"),
    ("accounts", "view_doctorprofile"),
    ("scheduling", "view_appointment"),
    ("scheduling", "add_appointment"),
    ("scheduling", "change_appointment"),
    ("scheduling", "view_timeblock"),
    ("scheduling", "add_timeblock"),
    ("scheduling", "change_timeblock"),
    ("scheduling", "delete_timeblock"),
    ("scheduling", "view_review"),
    ("scheduling", "change_review"),
    # The waiting lists: read them, add a patient, take one off (an add-permission action).
    ("scheduling", "view_waitlistentry"),
    ("scheduling", "add_waitlistentry"),
    ("scheduling", "view_waitlistoffer"),
    # Standing schedules and their exceptions (visit types stay with admins).
    ("scheduling", "view_availabilitytemplate"),
    ("scheduling", "add_availabilitytemplate"),
    ("scheduling", "change_availabilitytemplate"),
    ("scheduling", "delete_availabilitytemplate"),
    ("scheduling", "view_availabilityexception"),
    ("scheduling", "add_availabilityexception"),
    ("scheduling", "delete_availabilityexception"),
    ("scheduling", "view_visittype"),
    # Leave: read, add (through the service, with its preview), cancel and resolve (actions
    # that need the add permission). Clinic closures stay with admins (the service says so).
    ("scheduling", "view_leave"),
    ("scheduling", "add_leave"),
]


def ensure_front_desk_group(
    sender=None, apps=global_apps, using: str = "default", **kwargs
) -> None:
    """Create the group and grant whichever of its permissions exist (idempotent)."""
    if sender is None or sender.label != "accounts":
        return
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions of apps migrated after accounts may not exist yet: create them first.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=global_apps)
    group, _ = Group.objects.using(using).get_or_create(name=FRONT_DESK_GROUP)
    wanted = Permission.objects.using(using).filter(
        content_type__app_label__in={app for app, _ in FRONT_DESK_PERMISSIONS},
        codename__in={codename for _, codename in FRONT_DESK_PERMISSIONS},
    )
    group.permissions.add(*wanted)
