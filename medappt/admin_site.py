"""The staff console: Django's admin with the front-desk summary on its home page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class ClinicAdminSite(admin.AdminSite):
    site_header = "medappt clinic console"
    site_title = "medappt"
    index_title = "Front desk"
    index_template = "admin/clinic_index.html"

    def index(self, request, extra_context=None):
        from scheduling.dashboard import front_desk_summary

        context = dict(extra_context or {})
        if request.user.has_perm("scheduling.view_appointment"):
            context["front_desk"] = front_desk_summary()
        return super().index(request, context)


class ClinicAdminConfig(AdminConfig):
    default_site = "medappt.admin_site.ClinicAdminSite"
