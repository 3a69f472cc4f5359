"""Query parameters shared by the scheduling lists' schemas."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

WINDOW_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start ≥ this (with offset)."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="Start < this (with offset)."),
]
