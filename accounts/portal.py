"""medappt's own pages that mailed links open (outside the API): the email-change
confirmation. A GET only shows the page; the change happens on POST (a mail scanner or a
link preview that fetches the URL changes nothing)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import services

TEMPLATE = "portal/email_confirm.html"


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with a "Confirm" button; POST: email_change_confirm, then the outcome."""
    if request.method == "GET":
        return render(request, TEMPLATE, {})
    try:
        user = services.email_change_confirm(token=token)
    except ValidationError as error:
        return render(request, TEMPLATE, {"errors": error.messages}, status=400)
    return render(request, TEMPLATE, {"done": True, "email": user.email})
