"""The doctor search of the portal: the one place its filters are read and applied (the API
directory's own filters: a name, hospital or specialty, a specialty, a visit type)."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import DoctorProfile
from scheduling.filters import DoctorFilter
from scheduling.models import GENERAL_VISIT_TYPE
from scheduling.selectors import doctor_list_public, visit_type_list_visible_to


class DoctorSearchForm(forms.Form):
    q = forms.CharField(label=_("Name, hospital or specialty"), required=False, max_length=100)
    specialty = forms.CharField(label=_("Specialty"), required=False, max_length=100)
    visit_type = forms.ChoiceField(label=_("Type of visit"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        active = visit_type_list_visible_to(user=None).values_list("slug", "name")
        self.fields["visit_type"].choices = [
            ("", _("Any")),
            (GENERAL_VISIT_TYPE, _("General visit")),
            *active,
        ]


def doctor_search(
    *, q: str = "", specialty: str = "", visit_type: str = ""
) -> QuerySet[DoctorProfile]:
    """Public doctors matching every term of `q` (names, hospital, specialties) and, when
    given, having `specialty` and offering `visit_type` (a slug or `general`): the API
    directory's own filters over the same selector."""
    data = {"search": q, "specialty": specialty, "visit_type": visit_type}
    return DoctorFilter(data=data, queryset=doctor_list_public()).qs
