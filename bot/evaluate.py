"""Measure the bot on BEIR-like question sets: how well it ranks articles and what its replies show.

An evaluation set is a folder with ``corpus.jsonl`` (``{"id", "title", "text"}``), ``queries.jsonl``
(``{"id", "text"[, "answers"]}``) and ``qrels.tsv`` (``query-id<TAB>corpus-id<TAB>score`` after a
header line). Two things are measured:

- *Ranking*, at article level: ``Library.search`` returns one hit per article, and its article
  ids are scored against the judgments with nDCG@10, Recall@1/5/10/100 and MRR@10, averaged over
  the queries that have a relevant article (score >= 1). A score of 0 or below is not relevant.
- *Replies*, for sets whose questions carry gold ``answers``: the question is put to
  :func:`bot.core.answer.answer` exactly as the bot would, and the reply rendered as plain text. The
  answer is *shown* when any gold string occurs in that text, and *all shown* when every one does
  (SQuAD lists alternatives, any of which is the answer; the announcements set lists the parts of
  one answer, all of which a correct reply holds). Both compare case-folded text with runs of
  spaces made one and dashes made hyphens. The bot *abstained* when it replied "not covered".
- *By kind and language*: when questions carry a ``kind`` (paraphrase, lexical, update, typo),
  every figure is also given per kind, and per language (``zh`` for a question with Chinese
  characters, ``en`` otherwise), so that a gain on one kind cannot hide a loss on another.

The abstention test puts one set's questions to another set's corpus, where none of them is
answerable, and reports the share the bot declined.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.analysis import is_cjk
from bot.core.answer import Status, answer, quotable, render_plain, windows
from bot.core.corpus import Article, load_corpus
from bot.core.library import Library
from bot.core.semantic import Embedder, Vectors

CUTOFFS_RECALL = (1, 5, 10, 100)
RANKING_DEPTH = max(CUTOFFS_RECALL)  # one retrieval deep enough for every metric


# --- Metrics -----------------------------------------------------------------------------------
# ``ranking`` is a list of distinct document ids, best first; ``qrels`` maps the judged document
# ids of one query to their relevance. Documents missing from ``qrels`` are not relevant.


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Graded nDCG@k with linear gain: DCG = sum of rel_i / log2(i + 1) over ranks i = 1..k.

    The gain is the relevance itself (not 2^rel - 1), so Cranfield's grade 4 counts four times
    grade 1. The ideal DCG sorts all of the query's judged relevances, not just the retrieved
    ones, so a relevant document the system never returns still lowers the score. A query with
    nothing relevant scores 0.
    """
    dcg = sum(
        qrels.get(doc, 0) / math.log2(rank + 1)
        for rank, doc in enumerate(ranking[:k], start=1)
        if qrels.get(doc, 0) > 0
    )
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """The share of the relevant documents found in the top ``k``; 0 when none is relevant."""
    relevant = {doc for doc, rel in qrels.items() if rel > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document in the top ``k``, or 0 if there is none."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


# --- Evaluation sets ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A question of an evaluation set, with its gold answer strings if the set has them."""

    id: str
    text: str
    answers: tuple[str, ...] = ()
    kind: str | None = None

    @property
    def language(self) -> str:
        """``zh`` for a question with Chinese characters, ``en`` otherwise."""
        return "zh" if any(is_cjk(c) for c in self.text) else "en"


@dataclass(frozen=True, slots=True)
class EvalSet:
    """A BEIR-like folder, read: where its corpus is, its questions in file order, its judgments."""

    corpus_path: Path
    queries: list[Query]
    qrels: dict[str, dict[str, int]]


def load_eval_set(folder: Path) -> EvalSet:
    """Read ``queries.jsonl`` and ``qrels.tsv`` of ``folder``; the corpus is left for the caller.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and line of
    a malformed record, since a silently shortened set would give misleading figures.
    """
    corpus_path = folder / "corpus.jsonl"
    if not corpus_path.is_file():
        raise FileNotFoundError(f"{corpus_path}: no such file")
    return EvalSet(
        corpus_path, read_queries(folder / "queries.jsonl"), _read_qrels(folder / "qrels.tsv")
    )


def read_queries(path: Path) -> list[Query]:
    """Read a ``queries.jsonl`` file; ``ValueError`` names the file and line of a bad record."""
    queries: list[Query] = []
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            # BEIR itself writes "_id"; the shared sets write "id".
            query_id = record.get("id", record.get("_id"))
            text = record.get("text")
            answers = record.get("answers", [])
            if query_id is None or not isinstance(text, str):
                raise ValueError(f"{path}:{number}: expected an id and a text")
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                raise ValueError(f"{path}:{number}: answers must be a list of strings")
            kind = record.get("kind")
            # An empty gold string would be "found" in every reply.
            golds = tuple(a for a in answers if a.strip())
            queries.append(
                Query(str(query_id), text, golds, str(kind) if kind is not None else None)
            )
    return queries


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise ValueError(f"{path}:{number}: expected query-id, corpus-id and score")
            query_id, doc_id, score = fields
            try:
                relevance = int(score)
            except ValueError:
                if number == 1:
                    continue  # the "query-id corpus-id score" header
                raise ValueError(f"{path}:{number}: score {score!r} is not an integer") from None
            qrels.setdefault(query_id, {})[doc_id] = relevance
    return qrels


# --- Running -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one question: its ranking figures (None without a judgment) and reply."""

    query: Query
    ndcg_at_10: float | None = None
    recall: tuple[float, ...] = ()  # at each of CUTOFFS_RECALL
    mrr_at_10: float = 0.0
    asked: bool = False
    shown: bool = False
    all_shown: bool = False
    abstained: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """The averaged figures of one evaluation run.

    ``queries`` counts the questions scored for ranking (those with a relevant article).
    ``answer_shown``, ``all_shown`` and ``abstained`` are shares of the ``asked`` questions that
    carry gold answers; None for a set without answers, such as Cranfield. ``by_kind`` and
    ``by_language`` hold the same figures for each kind and language of question, when the
    questions carry a kind.
    """

    queries: int
    ndcg_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    asked: int = 0
    answer_shown: float | None = None
    abstained: float | None = None
    all_shown: float | None = None
    by_kind: dict[str, Report] = field(default_factory=dict)
    by_language: dict[str, Report] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The figures under the keys of ``eval --json``; the reply figures only when measured."""
        figures: dict[str, Any] = {
            "queries": self.queries,
            "ndcg@10": self.ndcg_at_10,
            "recall@1": self.recall_at_1,
            "recall@5": self.recall_at_5,
            "recall@10": self.recall_at_10,
            "recall@100": self.recall_at_100,
            "mrr@10": self.mrr_at_10,
        }
        if self.answer_shown is not None and self.abstained is not None:
            figures["answer_shown"] = self.answer_shown
            figures["abstained"] = self.abstained
            figures["all_shown"] = self.all_shown
        if self.by_kind:
            figures["by_kind"] = {k: r.to_json() for k, r in self.by_kind.items()}
            figures["by_language"] = {k: r.to_json() for k, r in self.by_language.items()}
        return figures


def shows(reply: str, gold: str) -> bool:
    """Whether ``reply`` holds ``gold``, case-folded, spaces and dashes made alike."""
    return _normal(gold) in _normal(reply)


def _normal(value: str) -> str:
    return " ".join(_DASHES.sub("-", value).casefold().split())


_DASHES = re.compile(r"[\u2010-\u2015\u2212]")


def ask(library: Library, query: Query, judged: Mapping[str, int]) -> Outcome:
    """Put one question to ``library`` as the bot would, and score the ranking and the reply."""
    ranking_figures: dict[str, Any] = {}
    if any(rel > 0 for rel in judged.values()):
        hits = library.search(query.text, k=RANKING_DEPTH)
        ranking = [hit.article.id for hit in hits]
        ranking_figures = {
            "ndcg_at_10": ndcg_at_k(ranking, judged, 10),
            "recall": tuple(recall_at_k(ranking, judged, k) for k in CUTOFFS_RECALL),
            "mrr_at_10": mrr_at_k(ranking, judged, 10),
        }
    if not query.answers:
        return Outcome(query, **ranking_figures)
    result = answer(library, query.text)
    reply = render_plain(result) if result.answered else ""
    found = [shows(reply, gold) for gold in query.answers]
    return Outcome(
        query,
        **ranking_figures,
        asked=True,
        shown=any(found),
        all_shown=all(found),
        abstained=result.status is Status.NOT_COVERED,
    )


def summarize(outcomes: Sequence[Outcome], *, groups: bool = True) -> Report:
    """Average ``outcomes``; with ``groups``, also per kind and language when questions have one."""
    ranked = [o for o in outcomes if o.ndcg_at_10 is not None]
    asked = [o for o in outcomes if o.asked]
    by_kind: dict[str, Report] = {}
    by_language: dict[str, Report] = {}
    if groups and any(o.query.kind for o in outcomes):
        for kind in sorted({o.query.kind or "" for o in outcomes}):
            by_kind[kind] = summarize(
                [o for o in outcomes if (o.query.kind or "") == kind], groups=False
            )
        for language in sorted({o.query.language for o in outcomes}):
            by_language[language] = summarize(
                [o for o in outcomes if o.query.language == language], groups=False
            )

    def share(flag: str) -> float | None:
        return sum(getattr(o, flag) for o in asked) / len(asked) if asked else None

    return Report(
        queries=len(ranked),
        ndcg_at_10=_mean([o.ndcg_at_10 or 0.0 for o in ranked]),
        recall_at_1=_mean([o.recall[0] for o in ranked]),
        recall_at_5=_mean([o.recall[1] for o in ranked]),
        recall_at_10=_mean([o.recall[2] for o in ranked]),
        recall_at_100=_mean([o.recall[3] for o in ranked]),
        mrr_at_10=_mean([o.mrr_at_10 for o in ranked]),
        asked=len(asked),
        answer_shown=share("shown"),
        abstained=share("abstained"),
        all_shown=share("all_shown"),
        by_kind=by_kind,
        by_language=by_language,
    )


def evaluate(library: Library, eval_set: EvalSet, *, limit: int | None = None) -> Report:
    """Score ``library`` on the first ``limit`` questions of ``eval_set`` (all when None).

    Each question costs one retrieval of the top 100 articles for the ranking metrics and, when
    it has gold answers, one call of :func:`bot.core.answer.answer`, the bot's own path to a reply.
    A declined reply shows no answer, even if a short gold string occurs in its fixed text.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    queries = eval_set.queries if limit is None else eval_set.queries[:limit]
    return summarize([ask(library, q, eval_set.qrels.get(q.id, {})) for q in queries])


def evaluate_offtopic(library: Library, questions: Iterable[str]) -> float:
    """The share of ``questions`` the bot declines to answer (0 for no questions).

    Meant for questions the library cannot answer, so every decline is correct: any status but
    ANSWERED counts, since "ask with key words" is a decline too.
    """
    results = [answer(library, question).answered for question in questions]
    return results.count(False) / len(results) if results else 0.0


@dataclass(frozen=True, slots=True)
class Reach:
    """Where answers are lost on the way to the reply, as shares of the questions with answers.

    Each figure bounds the next: the reply cites a relevant article (``right_article``); a gold
    answer is in the text the reply may quote from, the cited passage and its surroundings
    (``in_text``); it is in one of the sentence windows the reply may show, so that a perfect
    choice of sentences would show it (``in_window``). ``shown`` is :func:`evaluate`'s answer
    shown, which may exceed ``in_window`` by the rare answer that only a title shows.
    """

    asked: int
    right_article: float
    in_text: float
    in_window: float
    shown: float


def answer_reach(library: Library, eval_set: EvalSet) -> Reach:
    """Follow each question with gold answers through the reply, as :class:`Reach` describes."""
    asked = right = in_text = in_window = shown = 0
    for query in eval_set.queries:
        if not query.answers:
            continue
        asked += 1
        result = answer(library, query.text)
        if result.hit is None:
            continue
        golds = [a.casefold() for a in query.answers]
        reply = render_plain(result).casefold()
        shown += any(g in reply for g in golds)
        right += eval_set.qrels.get(query.id, {}).get(result.hit.article.id, 0) > 0
        text = quotable(result.hit)
        in_text += any(g in text.casefold() for g in golds)
        in_window += any(g in text[s:e].casefold() for s, e in windows(text) for g in golds)

    def share(count: int) -> float:
        return count / asked if asked else 0.0

    return Reach(asked, share(right), share(in_text), share(in_window), share(shown))


class RememberedQuestions:
    """An embedder that remembers every question's vector: an evaluation asks the same questions
    of several libraries (``scripts/quality.py`` asks SQuAD's of three, 30 ms each time), while a
    library remembers only its last few (``QUERY_MEMORY``). Passages are the model's to embed."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.name, self.dim = model.name, model.dim
        self.background, self.min_standout = model.background, model.min_standout
        self.least_standout = model.least_standout
        self._vectors: dict[str, Vectors] = {}

    def queries(self, texts: Sequence[str]) -> Vectors:
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            self._vectors.update(zip(new, self.model.queries(new), strict=True))
        return np.stack([self._vectors[t] for t in texts])

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self.model.passages(texts)

    def min_cosine(self, *, cjk: bool) -> float:
        return self.model.min_cosine(cjk=cjk)


def run_eval(
    data: Path,
    *,
    limit: int | None = None,
    offtopic: Path | None = None,
    build: Callable[[Sequence[Article]], Library] = Library,
) -> tuple[Report, float | None]:
    """Evaluate the set in ``data``, and put ``offtopic``'s questions to the same library.

    The library is built once, by ``build``, from ``data / "corpus.jsonl"``; ``limit`` takes the
    first questions of both sets. Returns the report and the off-topic decline share (None without
    ``offtopic``). Raises ``ValueError`` when the corpus yields no article at all.
    """
    eval_set = load_eval_set(data)
    corpus = load_corpus(eval_set.corpus_path)
    if not corpus.articles:
        problems = "; ".join(str(p) for p in corpus.problems[:3])
        raise ValueError(f"{eval_set.corpus_path}: no articles loaded ({problems})")
    library = build(corpus.articles)
    report = evaluate(library, eval_set, limit=limit)
    if offtopic is None:
        return report, None
    # Only the questions matter here: the other set's corpus and judgments go unread.
    questions = read_queries(offtopic / "queries.jsonl")
    if limit is not None:
        questions = questions[:limit]
    return report, evaluate_offtopic(library, (q.text for q in questions))


def format_table(report: Report, *, offtopic: float | None = None) -> str:
    """The figures as an aligned plain-text table, with the off-topic share if given; then, when
    the questions have kinds, a table of the main figures per kind and language."""
    rows = [
        ("queries", str(report.queries)),
        ("nDCG@10", f"{report.ndcg_at_10:.4f}"),
        ("Recall@1", f"{report.recall_at_1:.4f}"),
        ("Recall@5", f"{report.recall_at_5:.4f}"),
        ("Recall@10", f"{report.recall_at_10:.4f}"),
        ("Recall@100", f"{report.recall_at_100:.4f}"),
        ("MRR@10", f"{report.mrr_at_10:.4f}"),
    ]
    if report.answer_shown is not None and report.abstained is not None:
        rows.append(("questions with answers", str(report.asked)))
        rows.append(("answer shown", f"{report.answer_shown:.4f}"))
        rows.append(("all answers shown", f"{report.all_shown or 0.0:.4f}"))
        rows.append(("abstained", f"{report.abstained:.4f}"))
    if offtopic is not None:
        rows.append(("off-topic declined", f"{offtopic:.4f}"))
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    table = "\n".join(f"{name:<{width}}  {value:>{value_width}}" for name, value in rows)
    if not report.by_kind:
        return table
    lines = [
        f"{'kind / language':<16} {'questions':>9} {'Recall@1':>9} {'shown':>7} {'all shown':>9}"
        f" {'declined':>8}",
    ]
    for name, group in [*report.by_kind.items(), *report.by_language.items()]:
        lines.append(
            f"{name:<16} {group.asked or group.queries:>9} {group.recall_at_1:>9.3f}"
            f" {group.answer_shown or 0.0:>7.3f} {group.all_shown or 0.0:>9.3f}"
            f" {group.abstained or 0.0:>8.3f}"
        )
    return table + "\n\n" + "\n".join(lines)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0
