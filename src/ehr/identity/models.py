"""Accounts, role permissions, sessions, sign-in throttling and emergency access.

These are configuration and security records, not health data, so they are ordinary Django
models (DESIGN.md: "Configuration that is not health data may be ordinary Django models").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ehr.identity.principal import ROLES

ROLE_CHOICES = [(r, r.replace("_", " ").title()) for r in ROLES]
STAFF_ROLES = ("admin", "provider", "nurse", "front_desk", "biller")


class Account(models.Model):
    """What the EHR knows about a login beyond Django's ``auth.User``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    fhir_user = models.CharField(
        max_length=140,
        blank=True,
        default="",
        help_text="Practitioner/…, Patient/… or RelatedPerson/…",
    )
    # For proxies: the Patient ids they may act for, separated by spaces.
    proxy_patients = models.TextField(blank=True, default="")
    demo = models.BooleanField(default=False)
    mfa_secret = models.CharField(max_length=64, blank=True, default="")
    mfa_enabled = models.BooleanField(default=False)
    mfa_last_counter = models.BigIntegerField(default=0)  # last TOTP time step used (no replay)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "identity_account"

    def __str__(self) -> str:
        return f"{self.user.username} ({self.role})"

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def mfa_required(self) -> bool:
        """Staff must use MFA; demo accounts may skip it."""
        return self.is_staff_role and not self.demo

    def proxy_patient_ids(self) -> list[str]:
        return self.proxy_patients.split()


class RecoveryCode(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=128)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "identity_recovery_code"


class RolePermission(models.Model):
    """Actions (letters of ``crudse``) a role may perform on one resource type."""

    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    resource_type = models.CharField(max_length=64)
    actions = models.CharField(max_length=6, blank=True, default="")

    class Meta:
        db_table = "identity_role_permission"
        constraints = [
            models.UniqueConstraint(fields=["role", "resource_type"], name="identity_role_type")
        ]


class PermissionGeneration(models.Model):
    """One row; its value grows on every grid change so every process reloads its cache."""

    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "identity_permission_generation"


class LoginThrottle(models.Model):
    """Failed sign-ins per key (``user:<name>`` or ``ip:<address>``) in the current window."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.IntegerField(default=0)
    window_start = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "identity_login_throttle"


class UserSession(models.Model):
    """A signed-in browser session, for the sessions list and revocation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_sessions"
    )
    session_key = models.CharField(max_length=64, unique=True)
    started = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        db_table = "identity_user_session"
        ordering = ["-last_seen"]


class BreakGlassGrant(models.Model):
    """Emergency access: time-limited, with a reason, always reviewed afterwards."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="break_glass_grants"
    )
    reason = models.TextField()
    patient = models.CharField(max_length=64, blank=True, default="")
    started = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "identity_break_glass"
        ordering = ["-started"]

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.ended is None and self.started <= now < self.expires


class AdminNotification(models.Model):
    """Something an administrator must look at (shown on the admin home until dismissed)."""

    created = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=40)
    text = models.TextField()
    dismissed = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "identity_admin_notification"
        ordering = ["-created"]
