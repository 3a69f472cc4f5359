from django.urls import re_path

from formats.fhir import views

# Every path under /fhir/ that none of these matches is a 404 OperationOutcome.
urlpatterns = [
    re_path(r"^R4/metadata/?$", views.MetadataView.as_view(), name="fhir-metadata"),
    re_path(r"^R4/Appointment/\$find/?$", views.FindView.as_view(), name="fhir-find"),
]
for _kind, _view in (
    ("Practitioner", views.PractitionerView),
    ("Schedule", views.ScheduleView),
    ("Slot", views.SlotView),
    ("Appointment", views.AppointmentView),
    ("Patient", views.PatientView),
):
    urlpatterns += [
        re_path(rf"^R4/{_kind}/?$", _view.as_view(), name=f"fhir-{_kind.lower()}-search"),
        re_path(rf"^R4/{_kind}/(?P<pk>[^/]+)/?$", _view.as_view(), name=f"fhir-{_kind.lower()}"),
    ]
urlpatterns.append(re_path(r"^.*$", views.not_found, name="fhir-not-found"))
