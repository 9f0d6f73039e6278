"""Working days by the national calendar: holidays, make-up working days, the calendar's end."""

from __future__ import annotations

from datetime import date

import pytest

from router.ledger.workdays import (
    CalendarError,
    add_months,
    add_workdays,
    is_workday,
    workdays_between,
)


def test_national_day_2025_is_skipped_and_its_make_up_days_count() -> None:
    # 2025: 10月1日至8日放假; 9月28日（周日）、10月11日（周六）上班
    assert is_workday(date(2025, 9, 28)) and is_workday(date(2025, 10, 11))
    assert not is_workday(date(2025, 10, 8))
    assert add_workdays(date(2025, 9, 26), 1) == date(2025, 9, 28)  # a Sunday that is worked
    # assigned on 30 September: the five working days are 9, 10, 11 (Saturday), 13, 14 October
    assert add_workdays(date(2025, 9, 30), 5) == date(2025, 10, 14)
    assert workdays_between(date(2025, 9, 30), date(2025, 10, 14)) == 5
    assert workdays_between(date(2025, 9, 30), date(2025, 10, 8)) == 0


def test_spring_festival_2026_with_saturday_make_up_days() -> None:
    # 2026: 2月15日至23日放假; 2月14日（周六）、2月28日（周六）上班
    assert add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_workdays(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert add_workdays(date(2026, 2, 13), 5) == date(2026, 2, 27)
    assert add_workdays(date(2026, 2, 24), 4) == date(2026, 2, 28)
    assert add_workdays(date(2026, 2, 27), 2) == date(2026, 3, 2)  # 28th worked, 1 March not


def test_a_date_beyond_the_calendar_gets_a_chinese_message() -> None:
    with pytest.raises(CalendarError) as info:
        add_workdays(date(2026, 12, 28), 5)
    message = info.value.message
    assert "工作日历只收录" in message and "2027-01-0" in message and "chinese-calendar" in message


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 3, 15), 3, date(2026, 6, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2026, 10, 31), 2, date(2026, 12, 31)),
    ],
)
def test_the_answer_deadline_is_counted_in_calendar_months(
    start: date, months: int, end: date
) -> None:
    assert add_months(start, months) == end
