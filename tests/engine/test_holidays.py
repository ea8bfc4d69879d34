"""Holidays by the calendar: the official periods where they are tracked, the lunar dates
computed, the fallback days for years not tracked yet; every year from 2026 to 2035."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.engine.holidays import holiday_on, lunar_to_solar, official_holiday
from app.engine.script import Holiday
from app.scripts.loader import load_library
from tests.corpus.build import ROOT

HOLIDAYS = load_library(ROOT / "scripts_data").scripts["cmcc-12580"].holidays

#: 正月初一 and 八月十五 of each year (published almanac dates), to hold the lunar computation.
SPRING = {
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}
MID_AUTUMN = {
    2026: date(2026, 9, 25),
    2027: date(2027, 9, 15),
    2028: date(2028, 10, 3),
    2029: date(2029, 9, 22),
    2030: date(2030, 9, 12),
    2031: date(2031, 10, 1),
    2032: date(2032, 9, 19),
    2033: date(2033, 9, 8),
    2034: date(2034, 9, 27),
    2035: date(2035, 9, 16),
}
YEARS = range(2026, 2036)


def greeting(day: date) -> str | None:
    holiday = holiday_on(HOLIDAYS, day)
    return holiday.greeting if holiday is not None else None


@pytest.mark.parametrize("year", YEARS)
def test_lunar_dates_are_computed(year: int) -> None:
    assert lunar_to_solar(year, 1, 1) == SPRING[year]
    assert lunar_to_solar(year, 8, 15) == MID_AUTUMN[year]


@pytest.mark.parametrize("year", YEARS)
def test_spring_festival_and_mid_autumn_every_year(year: int) -> None:
    assert greeting(SPRING[year]) == "春节快乐"
    assert greeting(MID_AUTUMN[year]) == "中秋节快乐"


@pytest.mark.parametrize("year", YEARS)
def test_national_day_on_each_of_its_days(year: int) -> None:
    for offset in range(7):
        day = date(year, 10, 1) + timedelta(days=offset)
        expected = "中秋节快乐" if day == MID_AUTUMN[year] else "国庆节快乐"
        assert greeting(day) == expected, day
    tracked, _ = official_holiday(date(year, 10, 8))
    if not tracked:  # the fallback: seven days, and no more
        assert greeting(date(year, 10, 8)) is None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # 2026 is tracked: the periods as announced
        (date(2026, 2, 15), "春节快乐"),  # two days before 初一: the announced period begins
        (date(2026, 2, 23), "春节快乐"),
        (date(2026, 2, 24), None),
        (date(2026, 9, 27), "中秋节快乐"),  # the weekend joined to it
        (date(2026, 9, 20), None),  # a make-up working day is no holiday
        (date(2026, 10, 4), "国庆节快乐"),  # a Sunday inside the period
        (date(2026, 11, 22), None),  # an ordinary Sunday
        (date(2026, 4, 5), None),  # 清明: no greeting for a day of mourning
        # later years: the fallback days
        (date(2030, 2, 2), "春节快乐"),  # 除夕
        (date(2030, 2, 9), "春节快乐"),  # 初七: the eighth day from 除夕
        (date(2030, 2, 10), None),
        (date(2031, 1, 1), "元旦快乐"),
        (date(2031, 5, 5), "劳动节快乐"),
        (date(2031, 5, 6), None),
    ],
)
def test_official_periods_and_the_fallback(day: date, expected: str | None) -> None:
    assert greeting(day) == expected


def test_a_one_off_day_and_a_leap_day() -> None:
    once = Holiday(greeting="周年快乐", date="2030-06-01")
    leap = Holiday(greeting="闰日快乐", date="02-29")
    assert holiday_on([once], date(2030, 6, 1)) is once
    assert holiday_on([once], date(2031, 6, 1)) is None
    assert holiday_on([leap], date(2028, 2, 29)) is leap
    assert holiday_on([leap], date(2027, 3, 1)) is None  # no 02-29 in a common year


def test_a_holiday_needs_one_day() -> None:
    with pytest.raises(ValueError):
        Holiday(greeting="x")
    with pytest.raises(ValueError):
        Holiday(greeting="x", date="10-01", lunar="08-15")


def test_the_12580_greeting_on_a_holiday_in_the_calls_time_zone() -> None:
    from app.engine.compiled import CompiledScript
    from tests.engine.conftest import of, start

    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-12580"]
    compiled = CompiledScript(script, library.lexicon_for(script))
    # 2031-10-01 is 中秋 and 国庆 at once (not tracked yet: the fallback); 中秋 comes first
    d = start(compiled, "2031-10-01 06:30:00")
    (prompt,) = of([e.to_wire() for e in d.events], "prompt")
    assert prompt["text"] == "您好,中秋节快乐!很高兴为您服务!"
    d = start(compiled, "2031-10-03 10:00:00")
    (prompt,) = of([e.to_wire() for e in d.events], "prompt")
    assert prompt["text"] == "您好,国庆节快乐!很高兴为您服务!"
    # the call's own time zone decides the day: 2031-10-08 01:00 in Shanghai is still the
    # 7th in London, the last day of 国庆
    d = start(compiled, "2031-10-08 01:00:00", timezone="Europe/London")
    (prompt,) = of([e.to_wire() for e in d.events], "prompt")
    assert prompt["text"] == "您好,国庆节快乐!很高兴为您服务!"
