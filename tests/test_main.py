"""The command line, as a user runs it."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import chat, main
from bot.core.corpus import Article
from bot.core.library import Library
from tests.conftest import DATA, SHARED_EVAL

GOOD = str(DATA / "good")

# A developer's own TELEGRAM_BOT_TOKEN or CORPUS must not change what these tests see.
pytestmark = pytest.mark.usefixtures("no_env")


def test_ask_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--corpus", GOOD, "--json", "When", "is", "the", "last", "ferry?"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["answered"] is True
    assert "The <b>last</b> crossing leaves Pier 3 at 22:10." in record["text"]
    assert record["sources"][0] == {
        "id": "news/ferry-timetable.md",
        "title": "Harbour ferry moves to a winter timetable",
        "url": "https://example.org/news/ferry-winter-timetable",
        "date": "2026-10-02",
    }


def test_ask_with_the_semantic_stage(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMANTIC", "on")
    question = "How late can I catch a boat across the harbour?"
    assert main(["ask", "--corpus", str(DATA / "good"), "--json", question]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["answered"] is True
    assert "22:10" in record["text"]
    assert record["sources"][0]["id"] == "news/ferry-timetable.md"


def test_ask_json_when_not_covered(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--corpus", GOOD, "--json", "Who won Super Bowl 50?"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == {
        "answered": False,
        "text": "The announcements don't cover that. Send /sources to see what they do cover.",
        "sources": [],
    }


def test_ask_prints_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--corpus", GOOD, "Which permit do vans need?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Vans over 3.5 t & trailers > 6 m need a <P2> permit.")
    assert "Source: Parking <rules> & fines" in out


def test_search_queries_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"id": "q1", "text": "ferry pass"}\n\n{"id": 2, "text": "lanterns riverside"}\n'
    )
    assert main(["search", "--corpus", GOOD, "-k", "2", "--queries", str(queries)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["q1", 2]
    assert lines[0]["hits"][0]["id"] == "news/ferry-timetable.md"
    assert lines[0]["hits"][0]["passage"] == 1  # the fares passage, not the timetable one
    assert lines[1]["hits"][0]["id"] == "festival.html"
    for line in lines:
        ids = [hit["id"] for hit in line["hits"]]
        scores = [hit["score"] for hit in line["hits"]]
        assert len(ids) == len(set(ids)) <= 2
        assert scores == sorted(scores, reverse=True)


def test_search_rejects_a_bad_queries_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"text": "no id"}\n')
    assert main(["search", "--corpus", GOOD, "--queries", str(queries)]) == 2
    assert "q.jsonl:1: not a query record" in capsys.readouterr().err


def test_search_over_a_jsonl_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = str(DATA / "good" / "records.jsonl")
    assert main(["search", "--corpus", corpus, "--json", "lamp battery"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["terms"] == ["lamp", "batteri"]
    assert [hit["id"] for hit in record["hits"]] == ["recall-77"]


def test_corpus_problems_are_reported_and_the_rest_answers(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["ask", "--corpus", str(DATA / "bad"), "library Sundays"]) == 0
    assert "library will open on Sundays" in capsys.readouterr().out
    assert "latin1.txt: not UTF-8 text (byte 3)" in caplog.text
    assert "mixed.jsonl:2: invalid JSON" in caplog.text


def test_chat_over_a_pipe() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--corpus", GOOD],
        input="When is the last ferry crossing?\n\nWho won Super Bowl 50?\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers = result.stdout.strip().split("\n\n")
    assert answers[0].endswith("The last crossing leaves Pier 3 at 22:10.")
    assert "Source: Harbour ferry moves to a winter timetable (2026-10-02)" in result.stdout
    assert (
        answers[-1]
        == "The announcements don't cover that. Send /sources to see what they do cover."
    )
    assert ">" not in result.stdout.split("\n")[0]  # no prompt when stdin is not a terminal


def test_console_chat_understands_help_and_sources() -> None:
    library = Library(
        [
            Article("old", "Ferry news", "The ferry runs.", dt.date(2026, 1, 2)),
            Article("new", "Pool news", "The pool opens.", dt.date(2026, 5, 1), "https://ex.org/p"),
        ]
    )
    out = io.StringIO()
    chat(library, io.StringIO("/help\n/sources\n/sources 2\n"), out)
    assert "/sources [page] – the announcements I know" in out.getvalue()
    listing = out.getvalue().split("Announcements I know (2):")[1]
    assert listing.index("Pool news (2026-05-01) https://ex.org/p") < listing.index("Ferry news")


def test_serve_without_a_token_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--corpus", GOOD]) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


def test_bad_setting_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSAGE_CHARS", "lots")
    assert main(["ask", "ferry"]) == 2
    assert "PASSAGE_CHARS must be a whole number" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED_EVAL.is_dir(), reason=f"{SHARED_EVAL} is absent (CI has it)")
def test_eval_prints_a_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "squad.json"
    data, offtopic = SHARED_EVAL / "squad", SHARED_EVAL / "cranfield"
    args = ["eval", "--data", str(data), "--limit", "50", "--json", str(out)]
    assert main([*args, "--offtopic", str(offtopic)]) == 0
    table = capsys.readouterr().out
    assert "ndcg@10" in table.casefold()
    figures = json.loads(out.read_text())
    assert figures["queries"] == 50
    assert set(figures) == {
        "queries",
        "ndcg@10",
        "recall@1",
        "recall@5",
        "recall@10",
        "recall@100",
        "mrr@10",
        "answer_shown",
        "abstained",
        "all_shown",
        "offtopic_declined",
    }
    assert 0.5 < figures["recall@10"] <= 1


def test_eval_reports_by_kind_and_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "set"
    data.mkdir()
    (data / "corpus.jsonl").write_text(
        '{"id": "f", "title": "Ferry", "text": "The last ferry leaves at 22:10."}\n'
        '{"id": "p", "title": "公园", "text": "滨江公园每晚开放至22点。"}\n',
        encoding="utf-8",
    )
    (data / "queries.jsonl").write_text(
        '{"id": "1", "text": "When does the last ferry leave?", "answers": ["22:10"],'
        ' "kind": "lexical"}\n'
        '{"id": "2", "text": "滨江公园开放至几点", "answers": ["22点"], "kind": "lexical"}\n'
        '{"id": "3", "text": "ferry time", "answers": ["23:00"], "kind": "paraphrase"}\n',
        encoding="utf-8",
    )
    (data / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n1\tf\t1\n2\tp\t1\n3\tf\t1\n")
    out = tmp_path / "figures.json"
    assert main(["eval", "--data", str(data), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "kind / language" in table
    figures = json.loads(out.read_text())
    assert figures["by_kind"]["lexical"]["all_shown"] == 1.0
    assert figures["by_kind"]["paraphrase"]["all_shown"] == 0.0
    assert figures["by_language"]["zh"]["queries"] == 1
    assert figures["by_language"]["en"]["answer_shown"] == 0.5


def test_eval_of_a_missing_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--data", str(tmp_path / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err


def test_bench_runs_every_engine_on_a_tiny_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A smoke run: every engine builds, answers and is measured in a process of its own."""
    figures = tmp_path / "bench.json"
    args = ["bench", "--passages", "300", "--queries", "20", "--json", str(figures)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ")
    assert "| 300 | tantivy | 20 |" in out
    assert "| 300 | rank-bm25 | 20 |" in out
    results = json.loads(figures.read_text())["results"]
    assert [r["engine"] for r in results] == ["ours", "bm25s", "tantivy", "rank-bm25"]
    for result in results:
        assert result["p50_ms"] <= result["p99_ms"]
        assert result["peak_mb"] >= result["corpus_mb"] > 0
    # Same formula, same tokens: bm25s finds the same ten passages as ours.
    assert results[1]["same_top10"] == 1.0


def test_bench_refuses_an_unknown_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--engines", "ours,lucene", "--passages", "10"]) == 2
    assert "unknown engines ['lucene']" in capsys.readouterr().err
