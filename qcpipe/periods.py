"""Days, months and periods in the center's time zone, for reviews, reports and the CLI.

A call center thinks in its own calendar: "the calls of 21 October" are those that started
between midnight and midnight in Beijing, whatever the server's clock says. Stored times are
UTC; every range here is [start, end) in aware datetimes, ready to compare with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qcpipe.errors import QcpipeError

DEFAULT_TIMEZONE = "Asia/Shanghai"  # the center's time zone unless `[center] timezone` says otherwise


class PeriodError(QcpipeError):
    """A month or date that is not one (bad format, unknown time zone)."""


@dataclass(frozen=True)
class Period:
    """[start, end) in the center's time zone; either side may be open (None)."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def calendar_month(self) -> str | None:
        """'YYYY-MM' when the period is exactly one calendar month of its time zone (as
        `month_period` makes it), else None."""
        start = self.start
        if start is None or self.end is None or start.tzinfo is None or (start.day, start.time()) != (1, time()):
            return None
        following = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=start.tzinfo)
        return start.strftime("%Y-%m") if self.end == following else None


def zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"unknown time zone '{timezone}' (e.g. Asia/Shanghai)") from None


def parse_month(month: str) -> str:
    """'YYYY-MM' checked and normalised (2026-1 → 2026-01)."""
    try:
        return datetime.strptime(month.strip(), "%Y-%m").strftime("%Y-%m")
    except (AttributeError, ValueError):
        raise PeriodError(f"month '{month}' is not YYYY-MM") from None


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of 'YYYY-MM' in the center's time zone."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    start = datetime(year, number, 1, tzinfo=zone(timezone))
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=start.tzinfo)
    return start, end


def month_period(month: str, timezone: str) -> Period:
    return Period(*month_bounds(month, timezone))


def previous_month(month: str) -> str:
    """The calendar month before 'YYYY-MM'."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def next_month(month: str) -> str:
    """'2026-12' → '2027-01'."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    return f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"


def month_of(moment: datetime, timezone: str) -> str:
    """The 'YYYY-MM' a stored (aware) time falls in, in the center's calendar."""
    return moment.astimezone(zone(timezone)).strftime("%Y-%m")


def day_start(day: date | datetime, timezone: str) -> datetime:
    """Midnight at the start of `day` in the center's time zone (a datetime's time is ignored)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(timezone))


def days_period(timezone: str, *, on: date | None = None, since: date | None = None, until: date | None = None) -> Period:
    """The calls of one day (`on`), or from `since` to `until` (both days included), in center time."""
    if on is not None:
        if since is not None or until is not None:
            raise PeriodError("give one day, or a range (since/until), not both")
        start = day_start(on, timezone)
        return Period(start, day_start(on + timedelta(days=1), timezone))
    return Period(
        day_start(since, timezone) if since is not None else None,
        day_start(until + timedelta(days=1), timezone) if until is not None else None,
    )
