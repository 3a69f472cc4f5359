"""GET /fhir/R4/…: metadata, Practitioner, Schedule, Slot, Appointment (and waitlist entries),
Patient, and Appointment/$find (GET and POST). REST's authentication, visibility and audit;
bodies built by formats.fhir.mapping (docs/api-rules.md "FHIR")."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record_patient_views
from core.errors import error_response
from core.permissions import IsAuthenticated
from formats.fhir import bundles, capability, find, mapping, params, selectors, visit_types
from formats.fhir.bundles import Source
from formats.fhir.errors import exception_handler, operation_outcome
from formats.fhir.renderers import FHIRContentNegotiation, FHIRJSONParser, FHIRJSONRenderer
from formats.fhir.throttles import FHIRFindRateThrottle
from formats.fhir.validation import FHIRBodyInvalid, validate_body

logger = logging.getLogger("medappt.fhir")

VIA = "fhir"
SLOT_DEFAULT_DAYS = 14
PAGING = ("_count", "_page")


class FHIRView(APIView):
    """JSON only, OperationOutcome errors, no caching of answers (some hold patient data)."""

    schema = None  # FHIR's own contract is the CapabilityStatement, not the OpenAPI schema
    renderer_classes = [FHIRJSONRenderer]
    parser_classes = [FHIRJSONParser]
    content_negotiation_class = FHIRContentNegotiation
    permission_classes = [AllowAny]
    throttle_classes: list = []
    # The names each search supports besides _id, _count, _page and _format.
    search_params: tuple[str, ...] = ()

    def get_exception_handler(self):
        return exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        if settings.FHIR_VALIDATE_RESPONSES and isinstance(response, Response):
            response = self._validated(response)
        response = super().finalize_response(request, response, *args, **kwargs)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _validated(self, response: Response) -> Response:
        """FHIR_VALIDATE_RESPONSES: a body breaking the model or a value set is a 500."""
        if response.data is None:
            return response
        try:
            validate_body(FHIRJSONRenderer().render(response.data))
        except FHIRBodyInvalid as error:
            logger.error("invalid FHIR body from %s: %s", self.__class__.__name__, error)
            detail = gettext("Server error. Quote the X-Request-ID header.")
            return Response(operation_outcome(500, [detail]), status=500)
        return response

    # -- searches -----------------------------------------------------------------------
    def search_query(self) -> list[tuple[str, str]]:
        """The supported parameters of the request, as the bundle's links repeat them."""
        supported = {*self.search_params, "_id", "_format"}
        return [
            (name, value)
            for name, values in self.request.query_params.lists()
            if name in supported
            for value in values
        ]

    def ignored_outcome(self, names: list[str]) -> dict | None:
        """Unsupported parameters, ignored, reported as one information issue each."""
        if not names:
            return None
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "not-supported",
                    "diagnostics": gettext("Parameter %(name)s is not supported and was ignored.")
                    % {"name": name},
                }
                for name in names
            ],
        }

    def values(self, name: str) -> list[str]:
        return [v for v in self.request.query_params.getlist(name) if v.strip()]

    def bundle(self, page: bundles.Page, **kwargs) -> Response:
        ignored = params.unknown_names(list(self.request.query_params), set(self.search_params))
        body = bundles.searchset(
            self.request,
            page,
            query=self.search_query(),
            outcome=self.ignored_outcome(ignored),
            **kwargs,
        )
        return Response(body)

    def ids(self, name: str, resource: str | None = None) -> list[int]:
        return params.parse_ids(name, self.values(name), resource)


def _id_or_404(value: str) -> int:
    if not value.isdigit() or len(value) > params.ID_PATTERN_MAX:
        raise NotFound
    return int(value)


def _record_views(patient_ids: list[int]) -> None:
    audit_record_patient_views(patient_ids=patient_ids, data={"via": VIA})


class MetadataView(FHIRView):
    """GET metadata: the CapabilityStatement (public)."""

    def get(self, request: Request) -> Response:
        return Response(capability.capability_statement(bundles.base_url(request)))


class PractitionerView(FHIRView):
    """Public doctors: search by _id and name; read by id."""

    search_params = ("name",)

    def get(self, request: Request, pk: str | None = None) -> Response:
        doctors = selectors.practitioner_list()
        if pk is not None:
            profile = doctors.filter(user_id=_id_or_404(pk)).first()
            if profile is None:
                raise NotFound
            return Response(mapping.practitioner(profile))
        if self.values("_id"):
            doctors = doctors.filter(user_id__in=self.ids("_id"))
        for name in self.values("name"):
            doctors = doctors.filter(
                Q(user__first_name__icontains=name) | Q(user__last_name__icontains=name)
            )
        page = bundles.paginate(request.query_params, [Source(doctors, mapping.practitioner)])
        return self.bundle(page)


class ScheduleView(FHIRView):
    """One schedule per public doctor: search by _id, actor and service-type; read by id."""

    search_params = ("actor", "service-type")

    def get(self, request: Request, pk: str | None = None) -> Response:
        doctors = selectors.practitioner_list()
        if pk is not None:
            profile = doctors.filter(user_id=_id_or_404(pk)).first()
            if profile is None:
                raise NotFound
            return Response(mapping.schedule(profile))
        if self.values("_id"):
            doctors = doctors.filter(user_id__in=self.ids("_id"))
        if self.values("actor"):
            doctors = doctors.filter(user_id__in=self.ids("actor", "Practitioner"))
        if self.values("service-type"):
            doctors = doctors.filter(visit_types.schedules_q(self.values("service-type")))
        page = bundles.paginate(request.query_params, [Source(doctors, mapping.schedule)])
        return self.bundle(page)


class SlotView(FHIRView):
    """Public: free slots (availability's ids); a doctor also all of their own, staff all.
    Search by _id, schedule, start (default [now, +14 d), at most 62 d), status and
    service-type; a withdrawn block is 410."""

    search_params = ("schedule", "start", "status", "service-type")

    def get(self, request: Request, pk: str | None = None) -> Response:
        if pk is not None:
            block = selectors.slot_get(user=request.user, pk=_id_or_404(pk))
            if block is None:
                raise NotFound
            if block.withdrawn_at is not None:
                return Response(
                    operation_outcome(410, [gettext("This slot was withdrawn.")]), status=410
                )
            return Response(mapping.slot(block))
        start, end = self._window()
        blocks = selectors.slot_list_visible_to(user=request.user, start=start, end=end)
        blocks = self._filtered(blocks)
        page = bundles.paginate(request.query_params, [Source(blocks, mapping.slot)])
        return self.bundle(page)

    def _window(self):
        dates = params.parse_dates("start", self.values("start"))
        now = timezone.now()
        start = dates.bound("ge", "gt") or dates.equal or now
        end = (
            dates.bound("lt", "le")
            or dates.equal
            or start + datetime.timedelta(days=SLOT_DEFAULT_DAYS)
        )
        if end - start > find.MAX_SPAN:
            raise ValidationError(gettext("start: the range may span at most 62 days."))
        self.dates = dates
        # The window holds every match (a microsecond past an inclusive bound); the exact
        # conditions (gt, le, eq) are then applied as given.
        return start, end + datetime.timedelta(microseconds=1)

    def _filtered(self, blocks: QuerySet) -> QuerySet:
        blocks = blocks.filter(self.dates.q("start"))
        if self.values("_id"):
            blocks = blocks.filter(pk__in=self.ids("_id"))
        if self.values("schedule"):
            blocks = blocks.filter(doctor_id__in=self.ids("schedule", "Schedule"))
        statuses = {s for v in self.values("status") for s in v.split(",")}
        if statuses:
            blocks = blocks.filter(fhir_status__in=statuses)
        if self.values("service-type"):
            blocks = blocks.filter(visit_types.matches_q(self.values("service-type")))
        return blocks


class AppointmentView(FHIRView):
    """Visibility as REST's appointments/ (and live waitlist entries as waitlist appointments
    wl-{id}): search by _id, patient, practitioner, date, status and service-type."""

    permission_classes = [IsAuthenticated]
    search_params = ("patient", "practitioner", "date", "status", "service-type")

    def get(self, request: Request, pk: str | None = None) -> Response:
        if pk is not None:
            return self._read(pk)
        appointments, entries = self._searched()
        page = bundles.paginate(
            request.query_params,
            [
                Source(appointments, mapping.appointment),
                Source(entries, mapping.waitlist_appointment),
            ],
        )
        _record_views([row.patient_id for row in page.rows])
        return self.bundle(page)

    def _read(self, pk: str) -> Response:
        if pk.startswith(mapping.WAITLIST_PREFIX):
            entry_id = _id_or_404(pk.removeprefix(mapping.WAITLIST_PREFIX))
            entry = (
                selectors.waitlist_appointment_list(user=self.request.user)
                .filter(pk=entry_id)
                .first()
            )
            if entry is None:
                raise NotFound
            _record_views([entry.patient_id])
            return Response(mapping.waitlist_appointment(entry))
        appointment = (
            selectors.appointment_list(user=self.request.user).filter(pk=_id_or_404(pk)).first()
        )
        if appointment is None:
            raise NotFound
        _record_views([appointment.patient_id])
        return Response(mapping.appointment(appointment))

    def _searched(self) -> tuple[QuerySet, QuerySet]:
        user = self.request.user
        appointments = selectors.appointment_list(user=user)
        entries = selectors.waitlist_appointment_list(user=user)
        ids = [part for value in self.values("_id") for part in value.split(",")]
        if ids:
            numeric = [params.parse_id("_id", i) for i in ids if not i.startswith("wl-")]
            waiting = [
                params.parse_id("_id", i.removeprefix(mapping.WAITLIST_PREFIX))
                for i in ids
                if i.startswith(mapping.WAITLIST_PREFIX)
            ]
            appointments = appointments.filter(pk__in=numeric)
            entries = entries.filter(pk__in=waiting)
        if self.values("patient"):
            patients = self.ids("patient", "Patient")
            appointments = appointments.filter(patient_id__in=patients)
            entries = entries.filter(patient_id__in=patients)
        if self.values("practitioner"):
            doctors = self.ids("practitioner", "Practitioner")
            appointments = appointments.filter(doctor_id__in=doctors)
            entries = entries.filter(doctor_id__in=doctors)
        if self.values("date"):
            # Appointment.start: a waitlist entry has none, so a date search leaves it out.
            dates = params.parse_dates("date", self.values("date"))
            appointments = appointments.filter(dates.q("start"))
            entries = entries.none()
        statuses = {s for v in self.values("status") for s in v.split(",")}
        if statuses:
            wanted = Q(pk__in=[])
            for status in statuses & set(mapping.STATUS_FILTERS):
                wanted |= Q(**mapping.STATUS_FILTERS[status])
            appointments = appointments.filter(wanted)
            if mapping.WAITLIST_STATUS not in statuses:
                entries = entries.none()
        if self.values("service-type"):
            appointments = appointments.filter(visit_types.matches_q(self.values("service-type")))
            entries = entries.filter(visit_types.matches_q(self.values("service-type")))
        return appointments, entries


class PatientView(FHIRView):
    """A patient reads themselves, staff any patient, a doctor their own patients' names."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: str | None = None) -> Response:
        patients, name_only = selectors.patient_list_visible_to(user=request.user)

        def build(user):
            return mapping.patient(user, name_only=name_only)

        if pk is not None:
            patient = patients.filter(pk=_id_or_404(pk)).first()
            if patient is None:
                raise NotFound
            _record_views([patient.pk])
            return Response(build(patient))
        if self.values("_id"):
            patients = patients.filter(pk__in=self.ids("_id"))
        page = bundles.paginate(request.query_params, [Source(patients, build)])
        _record_views([row.pk for row in page.rows])
        return self.bundle(page)


class FindView(FHIRView):
    """Appointment/$find by GET or POST Parameters: bookable slots as proposed appointments,
    by start then preference; patient-reference needs credentials (self; staff any)."""

    throttle_classes = [FHIRFindRateThrottle]
    search_params = find.SUPPORTED

    def get(self, request: Request) -> Response:
        return self._find(dict(request.query_params.lists()))

    def post(self, request: Request) -> Response:
        return self._find(find.inputs_from_body(request.data))

    def _find(self, inputs: dict[str, list[str]]) -> Response:
        # Paging may come in the body's parameters or, for a POST too, the query string.
        paging = {k: v[0] for k, v in inputs.items() if k in PAGING and v}
        paging |= {k: v for k, v in self.request.query_params.items() if k in PAGING}
        found = find.parse_inputs({k: v for k, v in inputs.items() if not k.startswith("_")})
        try:
            find.check_patient(found, self.request.user)
        except find.FindUnauthenticated as error:
            raise NotAuthenticated from error
        except find.FindForbidden as error:
            raise DRFPermissionDenied from error
        blocks = find.slot_list_found(found)
        page = bundles.paginate(
            paging,
            [Source(blocks, lambda block: mapping.proposed_appointment(block, found.patient_id))],
        )
        if found.patient_id is not None:
            _record_views([found.patient_id])
        body = bundles.searchset(
            self.request,
            page,
            query=found.query(),
            outcome=self.ignored_outcome(found.ignored),
            full_urls=False,
        )
        return Response(body)


@csrf_exempt  # it changes nothing; a CSRF refusal would be an HTML 403
def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Any path under /fhir/ that no route matches: a 404 OperationOutcome."""
    return error_response(request, 404, gettext("Not found."))
