from django.contrib.admin.apps import AdminConfig


class ClinicAdminConfig(AdminConfig):
    """Django's admin app with our site (front-desk home; medappt/admin_site.py)."""

    default_site = "medappt.admin_site.ClinicAdminSite"
