"""Charts: built within every limit of Slack's data_visualization block, judged by one rule."""

from __future__ import annotations

import math

import pytest

from bot.slack.charts import (
    LABEL_LIMIT,
    MAX_CATEGORIES,
    MAX_SERIES,
    Series,
    condense,
    distinct_labels,
    message_problems,
    pie_chart,
    problems,
    series_chart,
    shorten,
    text_bars,
    without_charts,
)


def test_a_bar_chart_has_the_documented_shape() -> None:
    block = series_chart(
        "bar", "Top companies", ["AWS", "Google"], [Series("Articles", [7, 3])], y_label="articles"
    )
    assert block == {
        "type": "data_visualization",
        "title": "Top companies",
        "chart": {
            "type": "bar",
            "series": [
                {
                    "name": "Articles",
                    "data": [{"label": "AWS", "value": 7}, {"label": "Google", "value": 3}],
                }
            ],
            "axis_config": {"categories": ["AWS", "Google"], "y_label": "articles"},
        },
    }
    assert problems(block) == []


def test_long_names_are_shortened_readably_and_kept_distinct() -> None:
    names = [
        "Amazon Web Services Developer Relations",
        "Amazon Web Services Developer Tools",
        "X",
    ]
    labels = distinct_labels(names)
    assert all(len(label) <= LABEL_LIMIT for label in labels)
    assert len(set(labels)) == 3
    assert labels[0].startswith("Amazon Web")
    assert labels[0].endswith("…")
    assert labels[2] == "X"
    series = [Series(n, [1, 2, 3]) for n in names]
    block = series_chart("line", "t" * 80, names, series, x_label="w" * 90)
    assert problems(block) == []
    assert len(block["title"]) <= 50


def test_shorten_keeps_short_text_and_flattens_whitespace() -> None:
    assert shorten("Cloudflare") == "Cloudflare"
    assert shorten("  Two\nlines ") == "Two lines"
    assert len(shorten("Supercalifragilisticexpialidocious")) == LABEL_LIMIT


@pytest.mark.parametrize(
    ("series", "categories"),
    [
        ([], ["a"]),
        ([Series(str(i), [1]) for i in range(MAX_SERIES + 1)], ["a"]),
        ([Series("s", [1] * (MAX_CATEGORIES + 1))], [str(i) for i in range(MAX_CATEGORIES + 1)]),
        ([Series("s", [1, 2])], ["a"]),
        ([Series("s", [math.nan])], ["a"]),
    ],
)
def test_what_slack_would_refuse_is_refused_here(
    series: list[Series], categories: list[str]
) -> None:
    with pytest.raises(ValueError):
        series_chart("line", "t", categories, series)


def test_problems_names_each_broken_limit() -> None:
    good = series_chart("line", "Trend", ["2026-01", "2026-02"], [Series("AWS", [1, 0])])
    assert problems(good) == []
    broken = {
        "type": "data_visualization",
        "title": "x" * 51,
        "chart": {
            "type": "line",
            "series": [{"name": "y" * 21, "data": [{"label": "nope", "value": "1"}]}],
            "axis_config": {"categories": ["a", "a"]},
        },
    }
    found = problems(broken)
    assert any("title" in p for p in found)
    assert any("categories repeat" in p for p in found)
    assert any("series needs" in p for p in found)
    assert problems({"type": "data_visualization", "title": "t", "chart": {"type": "radar"}})
    pie = pie_chart("Share", [("a", 1), ("b", 2)])
    assert problems(pie) == []
    assert problems({**pie, "chart": {"type": "pie", "segments": []}})


def test_a_message_takes_at_most_two_charts_and_can_drop_them() -> None:
    chart = series_chart("bar", "t", ["a"], [Series("s", [1])])
    text = {"type": "section", "text": {"type": "mrkdwn", "text": "a 1"}}
    assert message_problems([chart, chart, text]) == []
    assert message_problems([chart, chart, chart])
    assert without_charts([chart, text, chart]) == [text]


def test_condense_sums_consecutive_periods_into_at_most_the_limit() -> None:
    weeks = [f"2026-W{n:02d}" for n in range(1, 27)]
    series = [Series("AWS", list(range(26)))]
    categories, summed, run = condense(weeks, series)
    assert run == 2
    assert len(categories) == 13
    assert categories[0] == "2026-W01"
    assert sum(summed[0].values) == sum(range(26))
    assert condense(weeks[:20], series[:1])[2] == 1


def test_text_bars_give_the_same_figures() -> None:
    lines = text_bars([("AWS", 10), ("Google", 5), ("Nobody", 0)]).splitlines()
    assert lines[0].endswith(" 10")
    assert lines[1].endswith(" 5")
    assert lines[2].endswith(" 0")
    assert lines[0].count("█") == 12
    assert lines[1].count("█") == 6
    assert text_bars([]) == ""
