import datetime

import pytest
from django.core.exceptions import ValidationError

from planblanc.plans.durations import duration_display, duration_parse


@pytest.mark.parametrize(("text", "expected"), [
    ("4h", datetime.timedelta(hours=4)),
    ("4 h", datetime.timedelta(hours=4)),
    ("30 min", datetime.timedelta(minutes=30)),
    ("1h30", datetime.timedelta(hours=1, minutes=30)),
    ("1,5 h", datetime.timedelta(hours=1, minutes=30)),
    ("2 j", datetime.timedelta(days=2)),
    ("2 jours et 4 heures", datetime.timedelta(days=2, hours=4)),
    ("1 semaine", datetime.timedelta(days=7)),
    ("72 heures", datetime.timedelta(hours=72)),
    ("PT4H", datetime.timedelta(hours=4)),
    ("P1D", datetime.timedelta(days=1)),
    ("04:00", datetime.timedelta(hours=4)),
])
def test_it_reads_durations_as_written_in_continuity_plans(text, expected):
    assert duration_parse(text) == expected


@pytest.mark.parametrize("text", ["abc", "4 x", "", "h4", "12", "quatre heures"])
def test_it_refuses_what_is_not_a_duration_with_examples(text):
    with pytest.raises(ValidationError) as refused:
        duration_parse(text)
    assert refused.value.code == "duration_invalid"
    assert "4 h" in refused.value.messages[0]  # the message gives examples


def test_it_displays_durations_briefly():
    from django.utils import translation

    with translation.override("en"):
        assert duration_display(datetime.timedelta(hours=1, minutes=30)) == "1 h 30"
        assert duration_display(datetime.timedelta(days=2)) == "2 d"
        assert duration_display(None) == ""
