"""Fixtures for the events screens: the scheduling test practice (two providers, two clinics,
working hours, visit types) and clients signed in through the real sign-in page."""

from __future__ import annotations

import pytest

from tests.registration.conftest import _fresh_permission_cache, signed_in  # noqa: F401
from tests.scheduling.conftest import make_world


@pytest.fixture
def world(db):
    make_world()
