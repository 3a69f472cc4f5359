"""The SSRF guard for webhook URLs: https to a public address, checked when a subscription
is saved and again before each send (DNS may change in between)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

URL_NOT_ALLOWED = _("The URL must be https and resolve to a public address.")


class TargetRefused(Exception):
    """The URL's scheme or resolved address is not one webhooks may reach."""


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise TargetRefused("unresolvable") from error
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def check_target(url: str) -> None:
    """Raise TargetRefused unless `url` is https (or, with WEBHOOK_ALLOW_INSECURE_TARGETS,
    http) and every address its host resolves to is public (any, when insecure is allowed)."""
    parts = urlsplit(url)
    insecure = settings.WEBHOOK_ALLOW_INSECURE_TARGETS
    allowed = ("https", "http") if insecure else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise TargetRefused("scheme")
    if parts.username or parts.password:
        raise TargetRefused("credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise TargetRefused("port") from error
    addresses = _addresses(parts.hostname, port)
    if not addresses:
        raise TargetRefused("unresolvable")
    if not insecure and not all(_public(a) for a in addresses):
        raise TargetRefused("address")


def validate_target(url: str) -> None:
    """check_target as a Django ValidationError on `url` (400 from the API)."""
    try:
        check_target(url)
    except TargetRefused as error:
        raise ValidationError({"url": [URL_NOT_ALLOWED]}) from error
