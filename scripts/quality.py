"""Measure answer quality on the shared evaluation sets, beside plain BM25 through bm25s.

    .venv/bin/pip install -e '.[quality]'      # matplotlib, for the plots
    .venv/bin/python scripts/quality.py [--eval ../shared/eval] [--out docs] [--data-dir DIR]
                                        [--semantic-public]

First the announcements set (questions in people's own words, ``announcements``): the bot with
its semantic stage and without it (SEMANTIC=off), by kind and language, its in-domain off-topic
questions, and the trade-off of answerability: for every floor of the question's cosine with the
best article's closest sentence, and every bar of its standout, the share of answerable questions
declined against the share of off-topic ones (``OUT/tradeoff.png``). Vectors are cached in
``DIR/embeddings`` (default ``data``), so a second run embeds nothing.

Then ``announcements-bot eval`` on Cranfield, SQuAD v1.1 dev and CMRC 2018 dev (all questions),
the three off-topic pairs, where SQuAD's and CMRC's answers are lost on the way to the reply
(:func:`bot.evaluate.answer_reach`), and the baseline of the issue "Answer quality": bm25s with
k1=1.2, b=0.75 over lowercased words with Snowball stemming and English stopwords (CJK text as
character bigrams), scored with the same metric code. These run lexical (SEMANTIC=off) unless
``--semantic-public``: embedding their corpora once takes about half an hour (estimated) on a
quiet 2-core machine (SQuAD's alone 8 minutes), and a run with their vectors cached 13-16 minutes
(each question embedded once for the run; see docs/quality.md). Prints the tables and writes
``OUT/quality.json`` and ``OUT/quality.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import bm25s
import Stemmer

from bot.config import Settings
from bot.core.analysis import tokenize
from bot.core.answer import ABSENT_MASS, answerability
from bot.core.corpus import load_corpus
from bot.core.forms import answer_form
from bot.core.library import Library
from bot.core.semantic import E5Embedder
from bot.evaluate import (
    RememberedQuestions,
    answer_reach,
    evaluate,
    evaluate_offtopic,
    format_table,
    load_eval_set,
    ndcg_at_k,
    read_queries,
    recall_at_k,
    run_eval,
)
from bot.loading import library_builder

ANNOUNCEMENTS = "announcements"

SETS = ("cranfield", "squad", "cmrc2018")
ANSWERED_SETS = ("squad", "cmrc2018")  # the sets with gold answers, followed into the reply
OFFTOPIC = (("cranfield", "squad"), ("squad", "cranfield"), ("squad", "cmrc2018"))
TARGETS = {
    ("cranfield", "ndcg@10"): 0.40,
    ("squad", "recall@1"): 0.82,
    ("cmrc2018", "recall@1"): 0.97,
    ("squad", "answer_shown"): 0.85,
    ("cmrc2018", "answer_shown"): 0.95,
}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"(?u)\b\w\w+\b")
_stemmer = Stemmer.Stemmer("english")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)


def baseline_tokens(text: str) -> list[str]:
    """The baseline's analysis: CJK bigrams, other words lowercased, stopped and stemmed."""
    tokens: list[str] = []
    for chunk in _CJK.split(text):
        words = [w for w in _WORD.findall(chunk.lower()) if w not in _STOPWORDS]
        tokens += _stemmer.stemWords(words)
    for run in _CJK.findall(text):
        tokens += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
    return tokens


def baseline(folder: Path) -> dict[str, float]:
    """Plain BM25 through bm25s: nDCG@10, Recall@1 and answer in the top paragraph."""
    eval_set = load_eval_set(folder)
    articles = load_corpus(eval_set.corpus_path).articles
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index([baseline_tokens(f"{a.title} {a.text}") for a in articles], show_progress=False)
    queries = [q for q in eval_set.queries if q.id in eval_set.qrels]
    tokens = [baseline_tokens(q.text) or ["\0"] for q in queries]
    found, _ = retriever.retrieve(tokens, k=10, show_progress=False)
    ndcg, recall, shown = [], [], []
    for query, row in zip(queries, found, strict=True):
        ranking = [articles[i].id for i in row]
        ndcg.append(ndcg_at_k(ranking, eval_set.qrels[query.id], 10))
        recall.append(recall_at_k(ranking, eval_set.qrels[query.id], 1))
        top = articles[row[0]].text.casefold()
        shown.append(any(a.casefold() in top for a in query.answers))
    result = {"ndcg@10": _mean(ndcg), "recall@1": _mean(recall)}
    if any(q.answers for q in queries):
        result["answer_in_top_paragraph"] = _mean(shown)
    return result


def _mean(values: list[Any]) -> float:
    return sum(values) / len(values) if values else 0.0


def plot(figures: dict[str, Any], path: Path) -> None:
    """Grouped bars: baseline and ours for each target metric, the target as a tick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, ours, base, targets = [], [], [], []
    for (name, metric), target in TARGETS.items():
        labels.append(f"{name}\n{metric}")
        ours.append(figures["ours"][name][metric])
        base_key = "answer_in_top_paragraph" if metric == "answer_shown" else metric
        base.append(figures["baseline"][name][base_key])
        targets.append(target)
    x = range(len(labels))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar([i - 0.2 for i in x], base, 0.4, label="plain BM25 (bm25s)", color="#9aa5b1")
    ax.bar([i + 0.2 for i in x], ours, 0.4, label="announcements-bot", color="#2b6cb0")
    ax.scatter(x, targets, marker="_", s=900, color="#c53030", label="target", zorder=3)
    ax.set_xticks(list(x), labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Answer quality on public sets (answer_shown: baseline = answer in top paragraph)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def announcements(folder: Path, data_dir: Path, out: Path) -> dict[str, Any]:
    """The announcements set with and without the semantic stage, and the answerability curve."""
    eval_set = load_eval_set(folder)
    articles = load_corpus(eval_set.corpus_path).articles
    offtopic = [q.text for q in read_queries(folder / "offtopic" / "queries.jsonl")]
    figures: dict[str, Any] = {}
    for semantic in (True, False):
        settings = Settings(data_dir=data_dir, semantic=semantic)
        started = time.perf_counter()
        library = library_builder(settings)(articles)
        built = time.perf_counter() - started
        report = evaluate(library, eval_set)
        declined = evaluate_offtopic(library, offtopic)
        name = "semantic" if semantic else "lexical"
        figures[name] = {
            **report.to_json(),
            "offtopic_declined": declined,
            "build_seconds": round(built, 1),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"## {ANNOUNCEMENTS}, {name}\n{format_table(report, offtopic=declined)}\n")
        if semantic:
            figures["tradeoff"] = tradeoff(library, [q.text for q in eval_set.queries], offtopic)
            plot_tradeoff(figures["tradeoff"], out / "tradeoff.png")
    return figures


def tradeoff(library: Library, answerable: list[str], offtopic: list[str]) -> dict[str, Any]:
    """Shares declined of both kinds of question as each bar of answerability moves.

    What the question names and the article doesn't, and small talk (a question sharing no word
    with the article that stands out less than ``least_standout``), decline at every bar.
    ``points`` move the floor of the closest sentence's cosine (the model's ``min_cosine``) with
    the standout bar where the bot has it; ``standout_points`` move the standout bar
    (``min_standout``, which only questions lacking ``ABSENT_MASS`` must clear) with the floor
    where the bot has it.
    """

    def judged(questions: list[str]) -> list[tuple[float, float, bool]]:
        found = []
        for question in questions:
            vector = library.encode_query(question)
            assert vector is not None
            evidence = library.evidence(tokenize(question), answer_form(question), vector)
            best = library.best_per_article(evidence.fused, 1, evidence.rows)[0]
            weighed = answerability(library, evidence, best, question, vector)
            lift = weighed.standout - weighed.min_standout
            found.append(
                (
                    weighed.closest - weighed.floor,
                    lift if weighed.absent >= ABSENT_MASS else float("inf"),
                    bool(weighed.missing)
                    or (not weighed.shares and weighed.standout < weighed.least_standout),
                )
            )
        return found

    kept, stray = judged(answerable), judged(offtopic)
    curves: dict[str, Any] = {"points": [], "standout_points": []}
    for step in range(-10, 11):
        shift = step / 200  # a bar moved by -0.05 .. +0.05
        for name, floor, standout in (("points", shift, 0.0), ("standout_points", 0.0, shift)):
            curves[name].append(
                {
                    "shift": shift,
                    "answerable_declined": _declined(kept, floor, standout),
                    "offtopic_declined": _declined(stray, floor, standout),
                }
            )
    return curves


def _declined(judged: list[tuple[float, float, bool]], floor: float, standout: float) -> float:
    return sum(
        missing or closest < floor or lift < standout for closest, lift, missing in judged
    ) / len(judged)


def plot_tradeoff(curve: dict[str, Any], path: Path) -> None:
    """Answerable questions declined against off-topic ones declined, the bot's floor marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, color, label in (
        ("points", "#2b6cb0", "floor of the closest sentence's cosine, -0.05 .. +0.05"),
        ("standout_points", "#dd6b20", "least standout (of questions lacking 2 units), ±0.05"),
    ):
        ax.plot(
            [p["answerable_declined"] for p in curve[name]],
            [p["offtopic_declined"] for p in curve[name]],
            marker="o",
            color=color,
            label=label,
        )
    bot = next(p for p in curve["points"] if p["shift"] == 0)
    ax.scatter(
        [bot["answerable_declined"]],
        [bot["offtopic_declined"]],
        s=120,
        color="#c53030",
        zorder=3,
        label="the bot",
    )
    ax.scatter([0.05], [0.85], marker="*", s=160, color="#2f855a", zorder=3, label="target")
    ax.set_xlabel("answerable questions declined")
    ax.set_ylabel("in-domain off-topic questions declined")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Answerability on the announcements set")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--eval", type=Path, default=root.parent / "shared" / "eval")
    parser.add_argument("--out", type=Path, default=root / "docs")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--semantic-public", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    figures: dict[str, Any] = {
        ANNOUNCEMENTS: announcements(args.eval / ANNOUNCEMENTS, args.data_dir, args.out),
        "ours": {},
        "baseline": {},
        "offtopic": {},
        "reach": {},
        "seconds": {},
    }
    public = Settings(data_dir=args.data_dir, semantic=args.semantic_public)
    # One model for every public set, remembering each question: SQuAD's and CMRC's are asked
    # three times (their own set, another corpus's off-topic questions, the reply reach).
    build = library_builder(public, RememberedQuestions(E5Embedder()) if public.semantic else None)
    for name in SETS:
        started = time.perf_counter()
        report, _ = run_eval(args.eval / name, build=build)
        figures["seconds"][name] = round(time.perf_counter() - started, 1)
        figures["ours"][name] = report.to_json()
        figures["baseline"][name] = baseline(args.eval / name)
        print(f"## {name}\n{format_table(report)}\n")
    for name in ANSWERED_SETS:
        eval_set = load_eval_set(args.eval / name)
        library = build(load_corpus(eval_set.corpus_path).articles)
        figures["reach"][name] = asdict(answer_reach(library, eval_set))
    for corpus, questions in OFFTOPIC:
        library = build(load_corpus(args.eval / corpus / "corpus.jsonl").articles)
        asked = (q.text for q in load_eval_set(args.eval / questions).queries)
        declined = evaluate_offtopic(library, asked)
        figures["offtopic"][f"{questions} questions vs {corpus} corpus"] = declined
    (args.out / "quality.json").write_text(json.dumps(figures, indent=2) + "\n")
    plot(figures, args.out / "quality.png")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
