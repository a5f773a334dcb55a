"""A short soak (benchmarks/soak.py) in the suite: the real serve, faults, a locked database."""

from __future__ import annotations

from benchmarks.soak import SoakConfig, soak
from tests.conftest import DATA

QUESTIONS = (
    "When is the last ferry crossing?",
    "Why is the Model 77 lamp recalled?",
    "Which permit do vans need?",
    "How many lanterns will be released?",
    "When does the library open on Sundays?",
    "公园几点开门？",
    "Who won Super Bowl 50?",
)


async def test_every_question_is_answered_exactly_once_despite_faults() -> None:
    config = SoakConfig(
        corpus=DATA / "good",
        questions=QUESTIONS,
        total=300,
        users=30,
        groups=3,
        faults=3,
        locks=1,
        lock_seconds=1.0,
        timeout=180,
    )
    report = await soak(config)
    assert report.exactly_once, report
    assert report.faults == {"429": 3, "500": 3, "drop": 3}
    assert report.locks == 1
    assert report.log_errors == 0
