"""Which holiday a day belongs to, by the calendar (12580's 节假日问候语 on every day of it).

Two maintained libraries decide, not a table of dates:

- ``chinese-calendar`` tracks the official holiday periods as the State Council announces them
  (every day of 国庆 or 春节, the weekends inside them included, the make-up working days
  excluded). Where it names the day's holiday, the script's holiday with that ``official``
  name is the day's.
- ``lunar-python`` computes the lunar calendar for any year: 春节 is 正月初一, 中秋 八月十五.
  For a year the first library does not track yet (it is updated once the year's periods are
  announced, in the autumn before), a holiday is its day, Gregorian or lunar, and the
  ``fallback_days`` after it, from ``fallback_from`` days before it (春节 from 除夕).

The answer depends on the date alone (and the libraries' versions): a call replayed after a
restart gets the same greeting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from lunar_python import Lunar

from app.engine.script import Holiday


@lru_cache(maxsize=64)
def lunar_to_solar(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar ``month``-``day`` of lunar ``year``."""
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def official_holiday(day: date) -> tuple[bool, str | None]:
    """Whether ``chinese-calendar`` tracks ``day``'s year, and the name of the official holiday
    period ``day`` is part of (None: none, a weekend, or a make-up working day)."""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # a year it does not track (yet)
        return False, None
    return True, (str(name) if on_holiday and name else None)


def _day_of(holiday: Holiday, year: int) -> date | None:
    """The holiday's own day in Gregorian ``year`` (lunar holidays: that lunar year's)."""
    if holiday.lunar is not None:
        month, day = (int(part) for part in holiday.lunar.split("-"))
        return lunar_to_solar(year, month, day)
    assert holiday.date is not None
    parts = [int(part) for part in holiday.date.split("-")]
    if len(parts) == 3:
        return date(*parts) if parts[0] == year else None
    try:
        return date(year, parts[0], parts[1])
    except ValueError:  # 02-29 in a common year
        return None


def _in_fallback(holiday: Holiday, day: date) -> bool:
    """Whether ``day`` is in the holiday's own days, counted from its date."""
    for year in (day.year, day.year - 1):  # a period may run into the next year
        own = _day_of(holiday, year)
        if own is None:
            continue
        first = own + timedelta(days=holiday.fallback_from)
        if first <= day < first + timedelta(days=holiday.fallback_days):
            return True
    return False


def holiday_on(holidays: Sequence[Holiday], day: date) -> Holiday | None:
    """The script's holiday ``day`` belongs to, if any: by the official period where the
    calendar tracks the year, else by the holiday's own days; the first in the script's order
    where two fall on one day."""
    tracked, name = official_holiday(day)
    for holiday in holidays:
        if holiday.official is not None and tracked:
            if holiday.official == name:
                return holiday
        elif _in_fallback(holiday, day):
            return holiday
    return None
