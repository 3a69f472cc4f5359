"""Query filters for the users list."""

from __future__ import annotations

import django_filters

from accounts.models import User
from core.filters import StrictBooleanFilter, TermsFilter


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=User.Role.choices)
    is_active = StrictBooleanFilter()
    search = TermsFilter(fields=("first_name", "last_name", "email"))

    class Meta:
        model = User
        fields = ["role", "is_active", "search"]
