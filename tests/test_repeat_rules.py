"""Repeat rules in words (issue 10, item 19): every rule the task form can build is valid for the scheduler and is
said in words in Russian and English, never as RRULE text."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale

from core.db import unit_of_work
from core.services.platform.errors import InvalidInput
from core.services.work import recurrence, repeat_rules

EXAMPLES = [
    ({"repeat": "quarterly", "month_day": "5", "count": "8"}, "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=5;COUNT=8",
     "каждый квартал, 5-го числа, 8 раз", "every quarter, on the 5th, 8 times"),
    ({"repeat": "weekdays", "count": "20"}, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=20",
     "каждый будний день, 20 раз", "every weekday, 20 times"),
    ({"repeat": "monthly", "month_day": "last", "count": "12"}, "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=12",
     "каждый месяц в последний день, 12 раз", "every month on the last day, 12 times"),
    ({"repeat": "weekly", "interval": "2", "by_day": ["MO", "WE", "FR"], "ends": "until", "until": "31.12.2027"},
     "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;UNTIL=20271231T235959",
     "каждые 2 недели по понедельникам, средам и пятницам, до 31 дек. 2027\u202fг.",
     "every 2 weeks on Mondays, Wednesdays and Fridays, until Dec 31, 2027"),
    ({"repeat": "daily", "interval": "21", "count": "1"}, "FREQ=DAILY;INTERVAL=21;COUNT=1",
     "каждый 21 день, 1 раз", "every 21 days, 1 time"),
    ({"repeat": "yearly", "interval": "5", "count": "3"}, "FREQ=YEARLY;INTERVAL=5;COUNT=3",
     "каждые 5 лет, 3 раза", "every 5 years, 3 times"),
    ({"repeat": "monthly", "month_day": "2", "ends": "count", "count": "2"}, "FREQ=MONTHLY;BYMONTHDAY=2;COUNT=2",
     "каждый месяц, 2-го числа, 2 раза", "every month, on the 2nd, 2 times"),
]


@pytest.mark.parametrize(("choices", "rule", "russian", "english"), EXAMPLES)
def test_examples_build_and_read_back(app, choices, rule, russian, english):
    with app.test_request_context(), unit_of_work():
        assert repeat_rules.build(choices) == rule
        with force_locale("ru"):
            assert repeat_rules.describe(rule) == russian
        with force_locale("en"):
            assert repeat_rules.describe(rule) == english
        again = repeat_rules.choices_of(rule)
        assert repeat_rules.build(again) == rule  # the form shows a stored rule as the same choices


def _every_form_choice():
    """Every combination the form offers (intervals and days sampled at their edges)."""
    day_sets = [[], ["MO"], ["SA", "SU"], list(repeat_rules.WEEKDAYS)]
    for repeat in ("daily", "weekdays", "weekly", "monthly", "quarterly", "yearly"):
        for interval, by_day, month_day, end in itertools.product(
                ("", "1", "2", "3", "11", "99"), day_sets, ("", "1", "15", "31", "last"),
                ({"ends": "count", "count": "1"}, {"ends": "count", "count": "22"},
                 {"ends": "count", "count": "1000"}, {"ends": "until", "until": "2030-02-28"})):
            yield {"repeat": repeat, "interval": interval, "by_day": by_day, "month_day": month_day, **end}


def test_every_rule_the_form_builds_runs_and_reads_in_words_in_both_languages(app):
    start = datetime(2029, 1, 10, 9, 0, tzinfo=UTC)
    seen = 0
    with app.test_request_context(), unit_of_work():
        for choices in _every_form_choice():
            rule = repeat_rules.build(choices)
            try:
                recurrence.parse_rule(rule, start, ZoneInfo("Europe/Moscow"))  # the scheduler accepts it...
            except InvalidInput as exc:  # ...or says why (every 99 years until 2030 gives no date)
                assert choices["ends"] == "until" and "no date" in str(exc.errors["rrule"]), (rule, exc.errors)
            for language in ("ru", "en"):
                with force_locale(language):
                    words = repeat_rules.describe(rule)
                assert not re.search(r"FREQ|BY|COUNT|UNTIL|INTERVAL|[=;]|%\(", words), (rule, words)
                if language == "ru":
                    assert re.fullmatch(r"[а-яё0-9 ,.\-\u202f\xa0]+", words), (rule, words)
                    assert re.search(r"\d+ раза?$|до \d", words), (rule, words)
                else:
                    assert words.startswith("every ") and re.search(r"times?$|until ", words), (rule, words)
            seen += 1
    assert seen > 2000


@pytest.mark.parametrize(("choices", "field"), [
    ({"repeat": "hourly", "count": "3"}, "repeat"), ({"repeat": "", "count": "3"}, "repeat"),
    ({"repeat": "daily", "interval": "0", "count": "3"}, "interval"),
    ({"repeat": "daily", "interval": "²", "count": "3"}, "interval"),
    ({"repeat": "daily", "interval": "100", "count": "3"}, "interval"),
    ({"repeat": "monthly", "month_day": "32", "count": "3"}, "month_day"),
    ({"repeat": "monthly", "month_day": "-5", "count": "3"}, "month_day"),
    ({"repeat": "daily", "count": ""}, "count"), ({"repeat": "daily", "count": "1001"}, "count"),
    ({"repeat": "daily", "count": "٣"}, "count"),
    ({"repeat": "daily", "ends": "until", "until": "31.02.2030"}, "until"),
    ({"repeat": "daily", "ends": "until", "until": ""}, "until"),
])
def test_bad_choices_name_the_field_to_fix(app, choices, field):
    with app.test_request_context(), unit_of_work(), pytest.raises(InvalidInput) as info:
        repeat_rules.build(choices)
    assert field in info.value.errors
