"""The one rule for refused charts, through a real WebClient and response_url against the
stand-in: a chart Slack refuses (invalid_blocks) goes again without it; other errors stay."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from support.slack_api import SlackStub

from bot.slack import chart_fallback, charts
from bot.slack.chart_fallback import send_with_chart_fallback
from bot.slack.charts import Series

TEXT = {"type": "section", "text": {"type": "mrkdwn", "text": "AWS 3, Google 5"}}


def chart(categories: int = 3) -> dict[str, Any]:
    labels = [f"2026-{m:02d}" for m in range(1, categories + 1)]  # within the limits
    return charts.series_chart("bar", "Articles", labels, [Series("AWS", [1] * categories)])


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart_fallback, "_warned", False)


def test_a_valid_chart_goes_once_as_it_is() -> None:
    with SlackStub() as stub:
        client = WebClient(token="xoxb-1", base_url=stub.url)
        blocks = [TEXT, chart()]
        send_with_chart_fallback(
            lambda b: client.chat_postMessage(channel="C1", text="t", blocks=b), blocks
        )
        assert [m["blocks"] for m in stub.messages("C1")] == [blocks]
        assert len(stub.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "method", ["chat.postMessage", "chat.postEphemeral", "chat.update", "views.publish"]
)
def test_a_refused_chart_goes_again_without_it(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    with SlackStub() as stub:
        client = WebClient(token="xoxb-1", base_url=stub.url)
        posted = client.chat_postMessage(channel="C1", text="t", blocks=[TEXT])
        stub.reject_charts()
        sends = {
            "chat.postMessage": lambda b: client.chat_postMessage(channel="C1", text="t", blocks=b),
            "chat.postEphemeral": lambda b: client.chat_postEphemeral(
                channel="C1", user="U1", text="t", blocks=b
            ),
            "chat.update": lambda b: client.chat_update(
                channel="C1", ts=posted["ts"], text="t", blocks=b
            ),
            "views.publish": lambda b: client.views_publish(
                user_id="U1", view={"type": "home", "blocks": b}
            ),
        }
        caplog.set_level(logging.WARNING)
        for _ in range(2):
            answer = send_with_chart_fallback(sends[method], [TEXT, chart()])
            assert answer["ok"]
        calls = stub.calls_to(method)[-4:]
        assert [bool(c.refused) for c in calls] == [True, False, True, False]
        sent = [c.params.get("blocks") or c.params["view"]["blocks"] for c in calls]
        assert sent[1] == sent[3] == [TEXT]
        assert len([r for r in caplog.records if "refused a chart" in r.getMessage()]) == 1


def test_the_stand_in_judges_charts_by_the_limits() -> None:
    broken = chart()
    broken["title"] = "x" * 51
    with SlackStub() as stub:
        client = WebClient(token="xoxb-1", base_url=stub.url)
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C1", text="t", blocks=[TEXT, broken])
        assert refused.value.response["error"] == "invalid_blocks"
        assert stub.calls_to("chat.postMessage")[-1].refused == charts.problems(broken)
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C1", text="t", blocks=[chart(), chart(), chart()])
        send_with_chart_fallback(
            lambda b: client.chat_postMessage(channel="C1", text="t", blocks=b), [TEXT, broken]
        )
        assert [m["blocks"] for m in stub.messages("C1")] == [[TEXT]]


def test_other_errors_are_not_retried() -> None:
    with SlackStub() as stub:
        client = WebClient(token="xoxb-1", base_url=stub.url)
        stub.fail_channel("C1", "channel_not_found")
        with pytest.raises(SlackApiError):
            send_with_chart_fallback(
                lambda b: client.chat_postMessage(channel="C1", text="t", blocks=b), [chart()]
            )
        assert len(stub.calls_to("chat.postMessage")) == 1
        stub.reset_faults()
        stub.fail_next("chat.postMessage", 200, error="invalid_blocks")
        with pytest.raises(SlackApiError):  # no chart to leave out: the refusal stands
            send_with_chart_fallback(
                lambda b: client.chat_postMessage(channel="C1", text="t", blocks=b), [TEXT]
            )
        assert len(stub.calls_to("chat.postMessage")) == 2


def test_a_response_url_refusal_goes_again_without_the_chart() -> None:
    with SlackStub() as stub:
        hook = WebhookClient(stub.response_url("r"))
        stub.reject_charts()
        answer = send_with_chart_fallback(
            lambda b: hook.send(text="t", blocks=b, response_type="ephemeral"), [TEXT, chart()]
        )
        assert answer.status_code == 200
        first, again = stub.responses
        assert first.refused and again.refused is None and again.params["blocks"] == [TEXT]
