"""Fault rules at a seeded rate and in a time window (an outage), on an injected clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ai.testing import Api, FakeProviderServer, Fault, FaultBook, ScheduledFaultRule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def draws(book: FaultBook, count: int, model: str = "gpt-4o") -> list[bool]:
    return [book.take(Api.OPENAI, model) is not None for _ in range(count)]


def test_a_rate_fires_about_that_share_reproducibly() -> None:
    books = [FaultBook(), FaultBook()]
    for book in books:
        book.add_rule(ScheduledFaultRule(Fault.rate_limit(1), rate=0.05, seed=7))
    first, second = (draws(book, 4000) for book in books)
    assert first == second
    assert 150 <= sum(first) <= 250


def test_a_window_opens_and_closes_on_the_clock() -> None:
    clock = Clock()
    rule = ScheduledFaultRule(
        Fault.server_error(503), model="gpt-4o", after=10, until=20, clock=clock
    )
    book = FaultBook()
    book.add_rule(rule)
    seen = []
    for elapsed in (0, 9.99, 10, 15, 19.99, 20, 30):
        clock.now = 100.0 + elapsed
        seen.append(book.take(Api.OPENAI, "gpt-4o") is not None)
    assert seen == [False, False, True, True, True, False, False]
    clock.now = 112
    assert book.take(Api.OPENAI, "gpt-4o-mini") is None  # other models stay up
    assert rule.describe()["active"] is True and rule.fired == 3


def test_requests_outside_the_window_or_rate_do_not_count() -> None:
    clock = Clock()
    rule = ScheduledFaultRule(Fault.server_error(), after=5, every=2, clock=clock)
    book = FaultBook()
    book.add_rule(rule)
    assert draws(book, 3) == [False, False, False] and rule.seen == 0
    clock.now += 5
    assert draws(book, 4) == [False, True, False, True]


def test_an_outage_for_n_requests_is_times() -> None:
    book = FaultBook()
    book.add(Fault.server_error(503), model="gpt-4o", times=3)
    assert draws(book, 5) == [True, True, True, False, False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": 1.5}, "rate"),
        ({"after": -1}, "after"),
        ({"after": 5, "until": 5}, "until"),
        ({"every": 0}, "every"),
    ],
)
def test_bad_schedules_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScheduledFaultRule(Fault.server_error(), **kwargs)


def test_scheduled_rules_over_http(fake: FakeProviderServer, http: httpx.Client) -> None:
    outage = {"kind": "server_error", "status": 503, "model": "gpt-4o", "times": None}
    created = http.post("/_fake/faults", json={**outage, "after": 0, "until": 60})
    assert created.status_code == 201
    rule = created.json()["rule"]
    assert (rule["after"], rule["until"], rule["active"], rule["rate"]) == (0, 60, True, None)
    rate = {"kind": "rate_limit", "retry_after": 1, "times": None, "rate": 0.02, "seed": 5}
    assert http.post("/_fake/faults", json=rate).json()["rule"]["seed"] == 5
    rules = fake.faults.describe()
    assert [r["kind"] for r in rules] == ["server_error", "rate_limit"]
    plain = http.post("/_fake/faults", json={"kind": "rate_limit"}).json()["rule"]
    assert "rate" not in plain


def test_the_outage_answers_503_only_for_its_model(
    fake: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    http.post(
        "/_fake/faults",
        json={"kind": "server_error", "status": 503, "model": "gpt-4o", "times": None, "until": 60},
    )
    messages = [{"role": "user", "content": "hi"}]
    statuses = [
        http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": messages},
            headers=openai_headers,
        ).status_code
        for model in ("gpt-4o", "gpt-4o-mini", "gpt-4o")
    ]
    assert statuses == [503, 200, 503]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "rate_limit", "rate": "often"}, "rate"),
        ({"kind": "rate_limit", "rate": 2}, "rate"),
        ({"kind": "rate_limit", "seed": 1.5}, "seed"),
        ({"kind": "rate_limit", "until": True}, "until"),
        ({"kind": "rate_limit", "rate": 0.1, "delay": 3}, "not"),
    ],
)
def test_bad_scheduled_rules_over_http_get_400(
    fake: FakeProviderServer, http: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = http.post("/_fake/faults", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
