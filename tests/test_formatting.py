"""The words of relative moments ("5 минут назад") are cached per whole minute: the same words babel gives for
every moment within the week the filter words, in both directions and in every language Mayak speaks."""

from __future__ import annotations

from datetime import timedelta

import pytest
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


@pytest.mark.parametrize(("size", "ru", "en"), [
    (0, "0 байт", "0 bytes"), (37, "37 байт", "37 bytes"), (999, "999 байт", "999 bytes"),
    (1_000, "1 кБ", "1 kB"), (350_400, "350,4 кБ", "350.4 kB"), (1_200_000, "1,2 МБ", "1.2 MB"),
    (25 * 1024 * 1024, "26,2 МБ", "26.2 MB"), (3_500_000_000, "3,5 ГБ", "3.5 GB"),
])
def test_file_sizes_in_the_readers_words(size, ru, en):
    from core.web.formatting import size_text

    assert size_text(size, "ru").replace("\xa0", " ") == ru
    assert size_text(size, "en").replace("\xa0", " ") == en


@given(st.integers(min_value=0, max_value=10**13))
def test_every_size_has_a_russian_unit(size):
    from core.web.formatting import size_text

    text = size_text(size, "ru")
    assert text.rsplit("\xa0", 1)[-1].rsplit(" ", 1)[-1] in {"байт", "байта", "кБ", "МБ", "ГБ"}, text
