"""Per-request context (client address, user agent, request id, actor) for audit and logs.

The middleware fills it before the view runs; the API authentication class sets the actor
once DRF has authenticated, so services never take the request as an argument.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import re
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

# What a client's X-Request-ID must look like to be kept (a UUID fits).
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{8,64}")


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""  # always the server's own
    client_request_id: str = ""  # the client's X-Request-ID, when well-formed
    actor_id: int | None = None
    actor_role: str = ""
    actor_label: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "medappt_request_context",
    default=RequestContext(),  # noqa: B039 - a frozen dataclass, never mutated
)


def current_context() -> RequestContext:
    return _current.get()


def set_context(context: RequestContext) -> contextvars.Token:
    return _current.set(context)


def reset_context(token: contextvars.Token) -> None:
    _current.reset(token)


def set_actor(user) -> None:
    """Record the authenticated user as the actor of whatever this request does next.

    django-auditlog's middleware runs before DRF authenticates a JWT, so it saw an anonymous
    user: its per-request data gets the actor here too, for the field history of this request.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return
    _current.set(
        replace(
            _current.get(),
            actor_id=user.pk,
            actor_role=getattr(user, "role", ""),
            actor_label=user.email,
        )
    )
    _set_auditlog_actor(user)


def _set_auditlog_actor(user) -> None:
    from auditlog.context import auditlog_value

    try:
        auditlog_data = auditlog_value.get()
    except LookupError:  # outside a request (commands, tests calling services directly)
        return
    if auditlog_data.get("actor") is None:
        auditlog_data["actor"] = user


@functools.lru_cache(maxsize=8)
def _proxy_networks(proxies: tuple[str, ...]) -> tuple[ipaddress._BaseNetwork, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _from_trusted_proxy(remote_addr: str | None) -> bool:
    """Whether the peer is one of our own proxies (TRUSTED_PROXIES; empty trusts none)."""
    if remote_addr is None:
        return False
    address = ipaddress.ip_address(remote_addr)
    return any(address in net for net in _proxy_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """The client address: REMOTE_ADDR, or the Nth X-Forwarded-For entry from the right.

    With TRUSTED_PROXY_COUNT = N, the last N hops were added by our own proxies, so the Nth
    address from the right is the one the outermost trusted proxy saw. Anything further left
    is client-supplied and never trusted. The header counts only when the peer itself
    (REMOTE_ADDR) is in TRUSTED_PROXIES: anyone reaching the server directly could send it.

    An entry that is not an IP address (a misconfigured proxy) is never used: it would be
    stored in audit rows and field history, whose columns only take addresses.
    """
    remote_addr = _ip_or_none(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0 and _from_trusted_proxy(remote_addr):
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = _ip_or_none(forwarded[-proxies])
            if address is not None:
                return address
    return remote_addr


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def new_request_id() -> str:
    """The server's own id of a request: unique, whatever the client sent."""
    return uuid.uuid4().hex


def client_request_id_from(request: HttpRequest) -> str:
    """The client's X-Request-ID if it is well-formed, else "" (it is then not kept)."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else ""
