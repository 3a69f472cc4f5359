"""Searchset bundles: _count (20, at most 100) and _page; a page past the end is a 200 with
no entries (§5 "Lists" does not apply under /fhir/); total, and self/next/previous links
that repeat the search's parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from formats.fhir import params

BASE_PATH = "/fhir/R4/"


def base_url(request) -> str:
    return request.build_absolute_uri(BASE_PATH)


def full_url(request, resource: FHIRAbstractModel) -> str | None:
    if getattr(resource, "id", None) is None:
        return None
    return f"{base_url(request)}{resource.get_resource_type()}/{resource.id}"


@dataclass
class Source:
    """One ordered queryset of a search and how each row becomes a resource."""

    rows: QuerySet | Sequence
    build: Callable[[Any], FHIRAbstractModel]


@dataclass
class Page:
    total: int
    size: int
    number: int
    resources: list[FHIRAbstractModel]
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
    outcome: OperationOutcome | None = None,
    full_urls: bool = True,
) -> Bundle:
    """A searchset Bundle of the page; `query` holds the parameters the links repeat."""
    path = path or request.path
    links = [BundleLink(relation="self", url=_link(request, path, query, page.number, page.size))]
    if page.size and page.number * page.size < page.total:
        links.append(
            BundleLink(relation="next", url=_link(request, path, query, page.number + 1, page.size))
        )
    if page.number > 1 and page.size:
        last = max((page.total + page.size - 1) // page.size, 1)
        previous = min(page.number - 1, last)
        links.append(
            BundleLink(relation="previous", url=_link(request, path, query, previous, page.size))
        )
    entries = [
        BundleEntry(
            fullUrl=full_url(request, resource) if full_urls else None,
            resource=resource,
            search=BundleEntrySearch(mode="match"),
        )
        for resource in page.resources
    ]
    if outcome is not None:
        entries.append(BundleEntry(resource=outcome, search=BundleEntrySearch(mode="outcome")))
    return Bundle(type="searchset", total=page.total, link=links, entry=entries or None)
