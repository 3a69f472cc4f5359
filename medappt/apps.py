from django.contrib.admin.apps import AdminConfig
from django.db.backends.signals import connection_created


class ClinicAdminConfig(AdminConfig):
    """Django's admin app with our site (front-desk home; medappt/admin_site.py), and the
    project's one start-up hook: timestamps parsed in C on PostgreSQL (medappt/db.py)."""

    default_site = "medappt.admin_site.ClinicAdminSite"

    def ready(self) -> None:
        super().ready()
        from medappt.db import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="medappt.db.timestamps")
