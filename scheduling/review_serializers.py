"""Shapes of reviews and votes: public reviews never name the patient or the visit."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from scheduling.models import Review


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SerializerMethodField()
    created_on = serializers.SerializerMethodField()
    helpful_count = serializers.IntegerField(read_only=True, default=0)
    my_vote = serializers.IntegerField(read_only=True, allow_null=True, default=None)

    class Meta:
        model = Review
        fields = ["id", "rating", "comment", "reviewer", "created_on", "helpful_count", "my_vote"]
        read_only_fields = fields

    def get_reviewer(self, review: Review) -> str:
        """First name and last initial only."""
        author = review.author
        initial = f" {author.last_name[:1]}." if author.last_name else ""
        return f"{author.first_name}{initial}".strip() or "Patient"

    def get_created_on(self, review: Review) -> str:
        return timezone.localdate(review.created_at).isoformat()


class ReviewCreateInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReviewUpdateInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class VoteInputSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=[1, -1])


class VoteResultSerializer(serializers.Serializer):
    helpful_count = serializers.IntegerField()
    my_vote = serializers.IntegerField(allow_null=True)
