"""Scheduling speed: the week view of one provider and next-available (issue "The front desk").

Target (later): 100 providers x 2,000 appointments (200,000), each query under 150 ms p95
server time. This script builds a fresh database (a temporary SQLite file unless
``--database-url`` is given), defines working hours (Mon-Fri 8-12, 13-17) for every provider,
loads the appointments through the bulk import path (``load_bundles``: transaction Bundles,
validation and indexing on) spread over the weeks around "now", then times, in-process:

* ``week``: ``booking.provider_week(provider, monday)`` for random providers and weeks;
* ``next``: ``booking.next_available("follow-up", after)`` across all providers, random start;
* ``board``: ``flow.board(day, location=...)``, the flow board of the one location every
  provider works at (all 100 providers' visits of a random day), first view of a day and
  then the refresh of one day (what the board does every 15 seconds).

Usage:
  .venv/bin/python bench/scheduling.py [--providers 100] [--per-provider 2000] [--reps 100]
      [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path


def _setup(url: str | None) -> None:
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="ehr-bench-sched-"))
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["EHR_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"database: {url}", file=sys.stderr)


def _bundles(providers: int, per: int, monday: date, rng: random.Random):
    """Appointments of each provider on working days, 20 minutes each, no overlaps."""
    from ehr.scheduling.booking import build
    from ehr.scheduling.common import practice_tz
    from ehr.scheduling.models import AppointmentType

    atype = AppointmentType.objects.get(code="follow-up")
    tz = practice_tz()
    per_day = 16
    start_day = monday - timedelta(weeks=(per // per_day) // 10)
    for p in range(providers):
        entries = []
        made, day = 0, start_day
        while made < per:
            if day.weekday() < 5:
                minutes = sorted(rng.sample(range(0, 8 * 60, 20), per_day))
                for m in minutes[: per - made]:
                    hour = 8 + m // 60 + (1 if m >= 240 else 0)
                    start = datetime(day.year, day.month, day.day, hour, m % 60, tzinfo=tz)
                    appt = build(
                        patient=f"Patient/bench-pat-{rng.randrange(5000)}",
                        provider=f"Practitioner/bench-pr-{p}", start=start,
                        end=start + timedelta(minutes=20), atype=atype,
                        location="Location/bench-loc",
                    )  # fmt: skip
                    request = {"method": "POST", "url": "Appointment"}
                    entries.append({"resource": appt, "request": request})
                    made += 1
            day += timedelta(days=1)
        for i in range(0, len(entries), 500):
            yield {"resourceType": "Bundle", "type": "transaction", "entry": entries[i : i + 500]}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--providers", type=int, default=100)
    ap.add_argument("--per-provider", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--database-url")
    args = ap.parse_args(argv)
    _setup(args.database_url)

    from datetime import time as dtime

    from ehr.fhir.operations.bulk_import import load_bundles
    from ehr.scheduling import booking
    from ehr.scheduling.common import practice_tz
    from ehr.scheduling.models import AppointmentType, WorkingHours

    rng = random.Random(7)
    AppointmentType.objects.get_or_create(
        code="follow-up", defaults={"name": "Follow-up", "duration_minutes": 20, "colour": "#000"}
    )
    WorkingHours.objects.all().delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(actor=f"Practitioner/bench-pr-{p}", location="Location/bench-loc",
                     weekday=wd, start=dtime(h0), end=dtime(h1))
        for p in range(args.providers) for wd in range(5) for h0, h1 in ((8, 12), (13, 17))
    )  # fmt: skip
    today = date.today()
    monday = today - timedelta(days=today.weekday())
    t0 = time.perf_counter()
    load_bundles(_bundles(args.providers, args.per_provider, monday, rng), label="appointments",
                 progress=False)  # fmt: skip
    total = args.providers * args.per_provider
    print(f"loaded {total} appointments in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    from ehr.scheduling import flow

    week_ms, next_ms, board_ms = [], [], []
    tz = practice_tz()
    for _ in range(args.reps):
        who = f"Practitioner/bench-pr-{rng.randrange(args.providers)}"
        week = monday + timedelta(weeks=rng.randrange(-8, 8))
        t = time.perf_counter()
        rows = booking.provider_week(who, week)
        week_ms.append((time.perf_counter() - t) * 1000)
        assert rows is not None
        after = datetime.combine(today + timedelta(days=rng.randrange(0, 14)), dtime(8), tzinfo=tz)
        t = time.perf_counter()
        found = booking.next_available("follow-up", after)
        next_ms.append((time.perf_counter() - t) * 1000)
        assert found
        day = today + timedelta(days=rng.randrange(-14, 14))
        t = time.perf_counter()
        flow.board(day, location="Location/bench-loc")
        board_ms.append((time.perf_counter() - t) * 1000)
    refresh_ms = []  # the board of one day again and again, as its 15-second refresh does
    for _ in range(args.reps):
        t = time.perf_counter()
        flow.board(today, location="Location/bench-loc")
        refresh_ms.append((time.perf_counter() - t) * 1000)
    for name, values in (
        ("week view", week_ms),
        ("next_available", next_ms),
        ("flow board", board_ms),
        ("board refresh", refresh_ms),
    ):
        print(
            f"{name:15} p50 {statistics.median(values):7.1f} ms   p95 {_pct(values, 0.95):7.1f} ms"
            f"   ({len(values)} runs, {args.providers} providers, {total} appointments)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
