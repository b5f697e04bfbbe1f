"""The words of relative moments ("5 минут назад") are cached per whole minute: the same words babel gives for
every moment within the week the filter words, in both directions and in every language Mayak speaks."""

from __future__ import annotations

from datetime import timedelta

from babel import dates as babel_dates
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import utcnow
from core.web.formatting import READER, Reader, relative_filter

WEEK_MINUTES = 7 * 24 * 60 - 1


def _words(seconds: float, locale: str) -> str:
    """What the filter writes for a moment ``seconds`` from now (the microseconds until it reads the clock are far
    from any rounding edge the tests use)."""
    return relative_filter({READER: Reader(locale, "Europe/Moscow", "RU")}, utcnow() + timedelta(seconds=seconds))


@settings(max_examples=300, deadline=None)
@given(minutes=st.integers(-WEEK_MINUTES, WEEK_MINUTES).filter(bool), locale=st.sampled_from(["ru", "en"]))
def test_whole_minutes_read_as_babel_writes_them(minutes, locale):
    expected = babel_dates.format_timedelta(timedelta(minutes=minutes), add_direction=True, granularity="minute",
                                            locale=locale)
    assert _words(minutes * 60, locale) == expected


@settings(max_examples=100, deadline=None)
@given(seconds=st.floats(-29.0, 29.0).filter(lambda s: abs(s) > 1), locale=st.sampled_from(["ru", "en"]))
def test_under_half_a_minute_is_one_minute_in_the_right_direction(seconds, locale):
    expected = babel_dates.format_timedelta(timedelta(seconds=seconds), add_direction=True, granularity="minute",
                                            locale=locale)
    assert _words(seconds, locale) == expected
