"""The one place screens check who may open them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from ehr.identity.accounts import account_of


def require_role(*roles: str) -> Callable:
    """Signed-in users whose role is one of ``roles`` (any role when none are given).

    Anonymous users go to the sign-in page; others get 403.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"/login/?{query}")
            account = account_of(user)
            if account is None or not user.is_active or (roles and account.role not in roles):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


signed_in = require_role()
"""Any signed-in user with an account."""
