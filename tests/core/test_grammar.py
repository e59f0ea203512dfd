"""The /digest grammar's date ranges: what is a range, what is text, and what gets a hint."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.grammar import MAX_LAST_DAYS, LastDays, parse_bound, parse_request, split_range
from bot.dates import DateRange, RangeError

D = dt.date


@pytest.mark.parametrize(
    ("text", "verb", "argument", "dates"),
    [
        ("company AWS since 2026-04-01", "company", "AWS", DateRange(since=D(2026, 4, 1))),
        ("company AWS until 2026-04-30", "company", "AWS", DateRange(until=D(2026, 4, 30))),
        (
            "topic kafka from 2026-01-01 to 2026-03-31",
            "topic",
            "kafka",
            DateRange(D(2026, 1, 1), D(2026, 3, 31)),
        ),
        (
            "topic kafka SINCE 2026-01-01 Until 2026-03-31",
            "topic",
            "kafka",
            DateRange(D(2026, 1, 1), D(2026, 3, 31)),
        ),
        (
            "topic kafka from 2026-01-01 until 2026-03-31",
            "topic",
            "kafka",
            DateRange(D(2026, 1, 1), D(2026, 3, 31)),
        ),
        (
            "company AWS since 2026-01 to 2026-03",
            "company",
            "AWS",
            DateRange(D(2026, 1, 1), D(2026, 3, 31)),
        ),
        ("topic kafka in 2026-05", "topic", "kafka", DateRange(D(2026, 5, 1), D(2026, 5, 31))),
        ("topic kafka in 2024-02", "topic", "kafka", DateRange(D(2024, 2, 1), D(2024, 2, 29))),
        ("topic kafka in 2026", "topic", "kafka", DateRange(D(2026, 1, 1), D(2026, 12, 31))),
        ("topic kafka since 2026-4-1", "topic", "kafka", DateRange(since=D(2026, 4, 1))),
        ("company Meta last 30 days", "company", "Meta", LastDays(30)),
        ("company Meta last 1 day", "company", "Meta", LastDays(1)),
        ("saved until 2026-04", "saved", "", DateRange(until=D(2026, 4, 30))),
        ("company Amazon Web Services  in 2026-05", "company", "Amazon Web Services", None),
    ],
)
def test_trailing_ranges(text: str, verb: str, argument: str, dates: object) -> None:
    request = parse_request(text)
    assert (request.verb, request.argument, request.hint) == (verb, argument, None)
    if dates is not None:
        assert request.dates == dates


@pytest.mark.parametrize(
    "text",
    [
        "topic rate limiting in practice",
        "topic scaling from zero to one",
        "topic the last mile",
        "topic last 30 days of kafka",
        "topic python in 3",
        "company since",
        "topic kafka since yesterday",
        "topic life in 1000 days",
        "topic last few days",
    ],
)
def test_words_that_only_look_like_a_range_stay_the_lookup(text: str) -> None:
    request = parse_request(text)
    assert request.hint is None and request.dates is None
    assert request.argument == text.split(" ", 1)[1]


@pytest.mark.parametrize(
    "text",
    [
        "company AWS since 2026-13-01",
        "company AWS since 2026-02-30",
        "topic kafka from 2026-05-01 to 2026-04-01",
        "topic kafka since 2026-05-02 until 2026-05-01",
        "topic kafka last 0 days",
        "topic kafka last 99999 days",
        f"topic kafka last {MAX_LAST_DAYS + 1} days",
        "topic kafka last " + "9" * 400 + " days",
        "topic kafka in 2026-00",
        "topic kafka since 20260401",
        "topic kafka until 2026/04/01",
        "saved from 2026-05-01 to 2026-04-01",
        "company AWS last -5 days",
        "company AWS last +5 days",
        "company AWS last 1.5 days",
        "company AWS until 2026-04-01 since 2026-01-01",
        "topic kafka in 2026-05 last 30 days",
        "topic kafka since 2026-01-01 since 2026-02-01",
    ],
)
def test_malformed_or_reversed_ranges_get_a_one_line_hint(text: str) -> None:
    request = parse_request(text)
    assert request.hint is not None and "\n" not in request.hint
    assert "since 2026-04-01" in request.hint  # the usage
    assert len(request.hint) < 300


def test_control_characters_never_reach_a_lookup() -> None:
    request = parse_request("topic kafka\x00\x07 streams\x1b since 2026-01-01")
    assert (request.verb, request.argument) == ("topic", "kafka streams")
    assert request.dates == DateRange(since=D(2026, 1, 1))
    assert parse_request("company \x00AWS").argument == "AWS"


@pytest.mark.parametrize(
    "text",
    [
        "follow company Cloudflare since 2026-01-01",
        "follow topic kafka last 30 days",
        "unfollow topic kafka in 2026-05",
        "follow topic kafka last 0 days",
    ],
)
def test_a_follow_with_a_date_range_says_follows_take_none(text: str) -> None:
    request = parse_request(text)
    assert request.hint is not None and "\n" not in request.hint
    assert "no date range" in request.hint


def test_a_follow_that_only_looks_like_a_range_is_followed() -> None:
    request = parse_request("follow topic rate limiting in practice")
    assert (request.verb, request.argument, request.hint) == (
        "follow",
        "topic rate limiting in practice",
        None,
    )


def test_a_range_alone_is_not_a_lookup() -> None:
    assert parse_request("topic since 2026-01-01").verb == "help"
    assert parse_request("company last 30 days").verb == "help"
    assert parse_request("saved last 30 days").dates == LastDays(30)


def test_date_lookups_take_no_range() -> None:
    request = parse_request("date 2026-05-01")
    assert (request.verb, request.argument, request.dates) == ("date", "2026-05-01", None)


@pytest.mark.parametrize(
    "text", ["date in 2026-05", "date since 2026-04-01", "date last 7 days", "day in 2026-13"]
)
def test_a_date_lookup_with_a_range_says_where_ranges_go(text: str) -> None:
    request = parse_request(text)
    assert request.verb == "date" and request.hint is not None and "\n" not in request.hint
    assert "one day" in request.hint and "topic" in request.hint


def test_last_days_end_today_and_count_today() -> None:
    assert LastDays(1).resolve(D(2026, 5, 13)) == DateRange(D(2026, 5, 13), D(2026, 5, 13))
    assert LastDays(30).resolve(D(2026, 5, 13)) == DateRange(D(2026, 4, 14), D(2026, 5, 13))


def test_cli_bounds() -> None:
    assert parse_bound("2026-04", end=False) == D(2026, 4, 1)
    assert parse_bound("2026-04", end=True) == D(2026, 4, 30)
    assert parse_bound("2026", end=True) == D(2026, 12, 31)
    for bad in ("2026-13", "April", "", "2026-04-31", "99999-01-01"):
        with pytest.raises(RangeError):
            parse_bound(bad, end=False)


def test_describe() -> None:
    assert DateRange().describe() == ""
    assert DateRange(D(2026, 1, 1)).describe() == "since 2026-01-01"
    assert DateRange(until=D(2026, 1, 1)).describe() == "until 2026-01-01"
    assert DateRange(D(2026, 1, 1), D(2026, 1, 1)).describe() == "on 2026-01-01"


@given(st.text(max_size=200))
def test_any_text_splits_or_raises_a_range_error(text: str) -> None:
    try:
        rest, spec = split_range(text)
    except RangeError:
        return
    assert spec is not None or rest == " ".join(text.split())


@given(st.text(max_size=300))
def test_any_lookup_text_parses(text: str) -> None:
    for verb in ("company", "topic", "saved"):
        request = parse_request(f"{verb} {text}")
        assert request.hint is None or "\n" not in request.hint
