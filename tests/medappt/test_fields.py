"""Datetimes in the API: rendered in UTC with `Z`, offsets required on input (docs/api-rules.md)."""

import datetime
import zoneinfo

import pytest
from rest_framework import serializers

from core.fields import UTCDateTimeField

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


@pytest.mark.django_db
def test_datetimes_render_in_utc_with_z_even_when_the_clinic_zone_is_not_utc(
    settings, patient, patient_client
):
    settings.TIME_ZONE = "Europe/Madrid"
    patient.date_joined = datetime.datetime(2030, 7, 1, 10, 30, tzinfo=MADRID)
    patient.save(update_fields=["date_joined"])

    response = patient_client.get("/api/v1/auth/me/")

    assert response.status_code == 200
    assert response.json()["date_joined"] == "2030-07-01T08:30:00Z"


@pytest.mark.django_db
def test_datetimes_in_lists_render_in_utc_with_z(settings, clinic_admin_client, clinic_admin):
    settings.TIME_ZONE = "America/New_York"
    response = clinic_admin_client.get("/api/v1/users/")
    (item,) = response.json()["results"]
    assert item["date_joined"].endswith("Z")
    assert "+" not in item["date_joined"]
    parsed = datetime.datetime.fromisoformat(item["date_joined"])
    assert parsed == clinic_admin.date_joined


def test_field_renders_an_aware_datetime_of_any_zone_in_utc():
    value = datetime.datetime(2030, 1, 31, 10, 0, 0, 123456, tzinfo=MADRID)
    assert UTCDateTimeField().to_representation(value) == "2030-01-31T09:00:00.123456Z"


def test_field_renders_none_as_none():
    assert UTCDateTimeField().to_representation(None) is None


@pytest.mark.parametrize("naive", ["2030-01-31T09:00:00", "2030-01-31 09:00", "2030-01-31T09:00"])
def test_field_refuses_input_without_an_offset(naive):
    field = UTCDateTimeField()
    with pytest.raises(serializers.ValidationError) as caught:
        field.run_validation(naive)
    assert caught.value.detail == [field.error_messages["naive"]]
    assert "offset" in str(caught.value.detail[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-31T11:00:00+02:00", datetime.datetime(2030, 1, 31, 9, 0, tzinfo=datetime.UTC)),
        ("2030-01-31T09:00:00Z", datetime.datetime(2030, 1, 31, 9, 0, tzinfo=datetime.UTC)),
        ("2030-01-31T04:00:00-05:00", datetime.datetime(2030, 1, 31, 9, 0, tzinfo=datetime.UTC)),
    ],
)
def test_field_converts_input_with_an_offset_to_utc(settings, text, expected):
    settings.TIME_ZONE = "Europe/Madrid"
    value = UTCDateTimeField().run_validation(text)
    assert value == expected
    assert value.utcoffset() == datetime.timedelta(0)
    assert value.tzinfo == datetime.UTC


def test_field_refuses_a_date_and_garbage():
    field = UTCDateTimeField()
    for bad in ["2030-01-31", "tomorrow", "2030-13-01T00:00:00Z"]:
        with pytest.raises(serializers.ValidationError):
            field.run_validation(bad)


def test_field_refuses_a_naive_datetime_object():
    with pytest.raises(serializers.ValidationError):
        UTCDateTimeField().run_validation(datetime.datetime(2030, 1, 31, 9, 0))  # noqa: DTZ001


def test_field_refuses_a_value_that_overflows_on_conversion():
    field = UTCDateTimeField()
    with pytest.raises(serializers.ValidationError) as caught:
        field.run_validation("0001-01-01T00:00:00+01:00")
    assert caught.value.detail == [field.error_messages["overflow"]]
