"""Landing page: a simple home per role; signed-out visitors go to the sign-in page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ehr.identity.accounts import account_of
from ehr.identity.decorators import signed_in
from ehr.identity.models import AdminNotification


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    account = account_of(request.user)
    notifications = []
    if account is not None and account.role == "admin":
        notifications = list(AdminNotification.objects.filter(dismissed=None)[:50])
    return render(request, "web/home.html", {"notifications": notifications})
