"""Searchset bundles: _count (20, at most 100) and _page; a page past the end is a 200 with
no entries (§5 "Lists" does not apply under /fhir/); total, and self/next/previous links
that repeat the search's parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet

from formats.fhir import params

Resource = dict[str, Any]

BASE_PATH = "/fhir/R4/"


def base_url(request) -> str:
    return request.build_absolute_uri(BASE_PATH)


def full_url(request, resource: Resource) -> str | None:
    if "id" not in resource:
        return None
    return f"{base_url(request)}{resource['resourceType']}/{resource['id']}"


@dataclass
class Source:
    """One ordered queryset of a search and how each row becomes a resource."""

    rows: QuerySet | Sequence
    build: Callable[[Any], Resource]


@dataclass
class Page:
    total: int
    size: int
    number: int
    resources: list[Resource]
    rows: list[Any]


def paginate(request_params, sources: Iterable[Source]) -> Page:
    """The requested page across the sources, in their order (each counted once)."""
    size = params.page_size(request_params.get("_count"))
    number = params.page_number(request_params.get("_page"))
    offset, wanted = (number - 1) * size, size
    total, rows, resources = 0, [], []
    for source in sources:
        count = len(source.rows) if isinstance(source.rows, list) else source.rows.count()
        start = max(offset - total, 0)
        if wanted and start < count:
            taken = list(source.rows[start : start + wanted])
            rows += taken
            resources += [source.build(row) for row in taken]
            wanted -= len(taken)
        total += count
    return Page(total=total, size=size, number=number, resources=resources, rows=rows)


def _link(request, path: str, query: list[tuple[str, str]], page: int, size: int) -> str:
    kept = [(k, v) for k, v in query if k not in ("_page", "_count")]
    kept += [("_count", str(size)), ("_page", str(page))]
    return f"{request.build_absolute_uri(path)}?{urlencode(kept)}"


def searchset(
    request,
    page: Page,
    *,
    query: list[tuple[str, str]],
    path: str | None = None,
    outcome: Resource | None = None,
    full_urls: bool = True,
) -> Resource:
    """A searchset Bundle of the page; `query` holds the parameters the links repeat."""
    path = path or request.path

    def link(relation: str, number: int) -> Resource:
        return {"relation": relation, "url": _link(request, path, query, number, page.size)}

    links = [link("self", page.number)]
    if page.size and page.number * page.size < page.total:
        links.append(link("next", page.number + 1))
    if page.number > 1 and page.size:
        last = max((page.total + page.size - 1) // page.size, 1)
        links.append(link("previous", min(page.number - 1, last)))
    entries = []
    for resource in page.resources:
        url = full_url(request, resource) if full_urls else None
        entry = {"fullUrl": url} if url else {}
        entries.append({**entry, "resource": resource, "search": {"mode": "match"}})
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": page.total, "link": links}
    return {**bundle, "entry": entries} if entries else bundle
