from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The patient and doctor portal under /portal/: server-rendered pages over the same
    services and selectors as the API (DESIGN-R2 §R2-10)."""

    name = "portal"
    verbose_name = "Portal"
