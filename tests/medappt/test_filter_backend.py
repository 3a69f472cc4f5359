"""The filter backend builds a FilterSet only for requests that name one of its filters."""

import pytest
from rest_framework.request import Request

from core.filters import FilterBackend
from scheduling.models import Appointment
from scheduling.views.appointments import AppointmentViewSet


def _filter(rf, params: dict):
    request = Request(rf.get("/api/v1/appointments/", params))
    view = AppointmentViewSet(request=request, action="list", format_kwarg=None)
    queryset = Appointment.objects.all()
    return queryset, FilterBackend().filter_queryset(request, queryset, view)


@pytest.mark.parametrize("params", [{}, {"page": "2", "page_size": "5", "ordering": "-start"}])
def test_a_request_naming_no_filter_gets_the_queryset_untouched(rf, params):
    queryset, filtered = _filter(rf, params)
    assert filtered is queryset


def test_a_request_naming_a_filter_is_filtered(rf):
    queryset, filtered = _filter(rf, {"status": "pending", "page": "2"})
    assert not queryset.query.where
    assert "status" in str(filtered.query.where)
