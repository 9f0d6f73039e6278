"""Working days by the national calendar, with its holidays and make-up working days (调休).

The calendar is chinese-calendar's, which knows the State Council's yearly arrangement only for
the years it ships; a date outside them gets a :class:`CalendarError` saying so in Chinese,
never a guess. The answer deadline is counted in calendar months (the office's rule), not here.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import chinese_calendar

from router.ledger.ops import InvalidError


class CalendarError(InvalidError):
    """The national holiday arrangement for this date is not known to the installed calendar."""


def _known(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        first, last = _years()
        raise CalendarError(
            f"工作日历只收录 {first}—{last} 年的法定节假日和调休安排，无法计算 {day.isoformat()} "
            f"的工作日；请升级 chinese-calendar（国务院公布次年安排后发布）。"
        ) from exc


def _years() -> tuple[int, int]:
    years = sorted(
        {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    )
    return years[0], years[-1]


def is_workday(day: date) -> bool:
    return _known(day)


def add_workdays(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted; n ≥ 1)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day = start
    while n:
        day += timedelta(days=1)
        if _known(day):
            n -= 1
    return day


def workdays_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end ≤ start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if _known(day):
            count += 1
    return count


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later; the month's last day when it has no such day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
