"""Serializer fields shared by the apps: datetimes in UTC with `Z`, offsets required; ids in
bodies resolved to rows; fast output serializers."""

from __future__ import annotations

import datetime
import operator
from collections.abc import Callable

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.fields import empty

from core.filters import MAX_ID


def utc_iso(value: datetime.datetime | None) -> str | None:
    """What UTCDateTimeField renders, for output serializers that read attributes directly."""
    if value is None:
        return None
    text = value.astimezone(datetime.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class UTCDateTimeField(serializers.DateTimeField):
    """Renders in UTC with `Z`; refuses input without an explicit offset (docs/api-rules.md)."""

    default_error_messages = {
        "naive": gettext_lazy("Datetime must include a UTC offset, e.g. 2030-01-31T09:00:00Z."),
    }

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            self.fail("overflow")


class ModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose model datetimes render through UTCDateTimeField."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


class FastModelSerializer(ModelSerializer):
    """A ModelSerializer for output that renders `Meta.fields` by reading each value directly.

    DRF builds its field objects from the model on every instantiation and renders each value
    through them; for a list page of 20 rows of 20 fields that is several times the cost of
    the reads. Here one reader per field is built once per class from the one field list: a
    `get_<name>` method, else a declared field's `source` (its `default` when the attribute is
    missing), else the model field (a foreign key's id, a datetime in UTC with `Z`, else the
    attribute). The output equals DRF's own rendering (tests compare them per serializer).
    """

    def to_representation(self, instance) -> dict:
        return {name: read(self, instance) for name, read in type(self)._readers()}

    @classmethod
    def _readers(cls) -> list[tuple[str, Callable]]:
        readers = cls.__dict__.get("_field_readers")
        if readers is None:
            readers = [(name, cls._reader(name)) for name in cls.Meta.fields]
            cls._field_readers = readers
        return readers

    @classmethod
    def _reader(cls, name: str) -> Callable:
        method = getattr(cls, f"get_{name}", None)
        if method is not None:
            return method
        declared = cls._declared_fields.get(name)
        if declared is not None:
            return _declared_reader(declared, name)
        try:
            field = cls.Meta.model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation of the selector's queryset
            return _attribute_reader(name)
        if field.many_to_one or field.one_to_one:
            return _attribute_reader(field.attname)
        if isinstance(field, models.DateTimeField):
            return lambda serializer, instance: utc_iso(getattr(instance, name))
        return _attribute_reader(name)


def _attribute_reader(attname: str) -> Callable:
    get = operator.attrgetter(attname)
    return lambda serializer, instance: get(instance)


def _declared_reader(field: serializers.Field, name: str) -> Callable:
    get = operator.attrgetter(field.source or name)
    default = field.default

    def read(serializer, instance):
        try:
            value = get(instance)
        except AttributeError:
            if default is empty:
                raise
            return default
        return None if value is None else field.to_representation(value)

    return read


class ObjectIdField(serializers.IntegerField):
    """A row's id in a request body, resolved to the row within `queryset`: an unknown id is a
    400 on the field (the request can never be valid), with the field's own message."""

    default_error_messages = {"does_not_exist": gettext_lazy("Unknown object.")}

    def __init__(self, *, queryset: models.QuerySet, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
        self.queryset = queryset

    def to_internal_value(self, data) -> models.Model:
        pk = super().to_internal_value(data)
        super().run_validators(pk)  # the id's range, before it reaches the database
        found = self.queryset.filter(pk=pk).first()
        if found is None:
            self.fail("does_not_exist")
        return found

    def run_validators(self, value: models.Model) -> None:
        """Already run on the id, in to_internal_value."""
