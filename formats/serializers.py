from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from formats.models import CalendarFeedToken
from formats.services import calendar_feed_url


class CalendarFeedSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="token_prefix", read_only=True)

    class Meta:
        model = CalendarFeedToken
        fields = ["id", "name", "prefix", "created_at"]
        read_only_fields = fields


class CalendarFeedCreatedSerializer(CalendarFeedSerializer):
    """The new feed with its url: shown this once, never again."""

    url = serializers.SerializerMethodField()

    class Meta(CalendarFeedSerializer.Meta):
        fields = [*CalendarFeedSerializer.Meta.fields, "url"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, feed: CalendarFeedToken) -> str:
        return calendar_feed_url(self.context["token"])


class CalendarFeedCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, label=_("name"))
