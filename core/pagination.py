"""Page-number pagination shared by every list (docs/api-rules.md)."""

from django.core import paginator as django_paginator
from rest_framework import pagination

# Rows no table can have (a 64-bit OFFSET): a page starting there is past the end.
MAX_OFFSET = 2**63 - 1


class Paginator(django_paginator.Paginator):
    """Django's paginator, except that a page that is not full tells the count.

    Django counts first (to check the page number), then reads the page. Here the page is
    read first: when it holds fewer rows than a page, it is the last one and the count is
    its offset plus its length, so a list that fits on one page (most of a patient's or a
    doctor's own) is one query instead of two. A full page still counts, as before; an
    empty page past the first is past the end (the same EmptyPage, so the same 404).
    """

    def page(self, number) -> django_paginator.Page:
        number = self._page_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if len(rows) < self.per_page and (rows or number == 1):
            self.__dict__["count"] = bottom + len(rows)  # the count cached_property, known
        elif not rows:
            raise django_paginator.EmptyPage(self.error_messages["no_results"])
        return self._get_page(rows, number, self)

    def _page_number(self, number) -> int:
        """validate_number() without its comparison with num_pages (which counts)."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError) as error:
            raise django_paginator.PageNotAnInteger(self.error_messages["invalid_page"]) from error
        if number < 1:
            raise django_paginator.EmptyPage(self.error_messages["min_page"])
        if number * self.per_page > MAX_OFFSET:
            raise django_paginator.EmptyPage(self.error_messages["no_results"])
        return number


class PageNumberPagination(pagination.PageNumberPagination):
    django_paginator_class = Paginator
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
