from django.conf import settings
from django.http import HttpRequest


def clinic(request: HttpRequest) -> dict:
    """The clinic's name (CLINIC_NAME) on every page."""
    return {"clinic_name": settings.CLINIC_NAME}
