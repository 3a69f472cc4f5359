"""The doctor search of the portal: the one place its filters are read and applied.

Visit types (scheduling.VisitType, another branch) join here: a `visit_type` field in
DoctorSearchForm and its filter in doctor_search(); the templates show whatever the form
holds."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import DoctorProfile
from scheduling.filters import DoctorFilter
from scheduling.selectors import doctor_list_public


class DoctorSearchForm(forms.Form):
    q = forms.CharField(label=_("Name, hospital or specialty"), required=False, max_length=100)
    specialty = forms.CharField(label=_("Specialty"), required=False, max_length=100)


def doctor_search(*, q: str = "", specialty: str = "") -> QuerySet[DoctorProfile]:
    """Public doctors matching every term of `q` (names, hospital, specialties) and, when
    given, having `specialty`: the API directory's own filters over the same selector."""
    data = {"search": q, "specialty": specialty}
    return DoctorFilter(data=data, queryset=doctor_list_public()).qs
