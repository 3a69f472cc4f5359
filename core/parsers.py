"""The API's JSON parser: DRF's, with a bound on nesting (SECURITY.md, finding 8)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as BaseJSONParser

# No request body of this API nests deeper than a few levels; far deeper ones only cost time
# and recursion (the decoder, validation and error rendering all recurse).
MAX_JSON_DEPTH = 32
TOO_DEEP = gettext_lazy("JSON parse error - nested too deeply.")


def _too_deep(data: Any, limit: int) -> bool:
    """Whether any value lies more than `limit` arrays/objects deep (iterative: no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(BaseJSONParser):
    """A body nested past MAX_JSON_DEPTH is a 400 like any malformed JSON, never a
    RecursionError (a 500) in the decoder."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(TOO_DEEP) from error
        if _too_deep(data, MAX_JSON_DEPTH):
            raise ParseError(TOO_DEEP)
        return data
