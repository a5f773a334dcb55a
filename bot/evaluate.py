"""Measure the bot on BEIR-like question sets: how well it ranks articles and what its replies show.

An evaluation set is a folder with ``corpus.jsonl`` (``{"id", "title", "text"}``), ``queries.jsonl``
(``{"id", "text"[, "answers"]}``) and ``qrels.tsv`` (``query-id<TAB>corpus-id<TAB>score`` after a
header line). Two things are measured:

- *Ranking*, at article level: ``Library.search`` returns one hit per article, and its article
  ids are scored against the judgments with nDCG@10, Recall@1/5/10/100 and MRR@10, averaged over
  the queries that have a relevant article (score >= 1). A score of 0 or below is not relevant.
- *Replies*, for sets whose questions carry gold ``answers``: the question is put to
  :func:`bot.core.answer.answer` exactly as the bot would, and the reply rendered as plain text. The
  answer is *shown* when any gold string occurs in that text (case-insensitive); the bot *abstained*
  when it replied "not covered".

The abstention test puts one set's questions to another set's corpus, where none of them is
answerable, and reports the share the bot declined.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.answer import Status, answer, quotable, render_plain, windows
from bot.core.corpus import load_corpus
from bot.core.library import Library

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
        corpus_path, _read_queries(folder / "queries.jsonl"), _read_qrels(folder / "qrels.tsv")
    )


def _read_queries(path: Path) -> list[Query]:
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
            # An empty gold string would be "found" in every reply.
            queries.append(Query(str(query_id), text, tuple(a for a in answers if a.strip())))
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
class Report:
    """The averaged figures of one evaluation run.

    ``queries`` counts the questions scored for ranking (those with a relevant article).
    ``answer_shown`` and ``abstained`` are shares of the ``asked`` questions that carry gold
    answers; both are None for a set without answers, such as Cranfield.
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

    def to_json(self) -> dict[str, float]:
        """The figures under the keys of ``eval --json``; the reply figures only when measured."""
        figures: dict[str, float] = {
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
        return figures


def evaluate(library: Library, eval_set: EvalSet, *, limit: int | None = None) -> Report:
    """Score ``library`` on the first ``limit`` questions of ``eval_set`` (all when None).

    Each question costs one retrieval of the top 100 articles for the ranking metrics and, when
    it has gold answers, one call of :func:`bot.core.answer.answer`, the bot's own path to a reply.
    A declined reply shows no answer, even if a short gold string occurs in its fixed text.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    queries = eval_set.queries if limit is None else eval_set.queries[:limit]
    ndcg: list[float] = []
    recall: dict[int, list[float]] = {k: [] for k in CUTOFFS_RECALL}
    mrr: list[float] = []
    shown = abstained = asked = 0
    for query in queries:
        judged = eval_set.qrels.get(query.id, {})
        if any(rel > 0 for rel in judged.values()):
            hits = library.search(query.text, k=RANKING_DEPTH)
            ranking = [hit.article.id for hit in hits]
            ndcg.append(ndcg_at_k(ranking, judged, 10))
            for k, values in recall.items():
                values.append(recall_at_k(ranking, judged, k))
            mrr.append(mrr_at_k(ranking, judged, 10))
        if query.answers:
            asked += 1
            result = answer(library, query.text)
            reply = render_plain(result).casefold()
            shown += result.answered and any(a.casefold() in reply for a in query.answers)
            abstained += result.status is Status.NOT_COVERED
    return Report(
        queries=len(ndcg),
        ndcg_at_10=_mean(ndcg),
        recall_at_1=_mean(recall[1]),
        recall_at_5=_mean(recall[5]),
        recall_at_10=_mean(recall[10]),
        recall_at_100=_mean(recall[100]),
        mrr_at_10=_mean(mrr),
        asked=asked,
        answer_shown=shown / asked if asked else None,
        abstained=abstained / asked if asked else None,
    )


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


def run_eval(
    data: Path, *, limit: int | None = None, offtopic: Path | None = None
) -> tuple[Report, float | None]:
    """Evaluate the set in ``data``, and put ``offtopic``'s questions to the same library.

    The library is built once from ``data / "corpus.jsonl"``; ``limit`` takes the first questions
    of both sets. Returns the report and the off-topic decline share (None without ``offtopic``).
    Raises ``ValueError`` when the corpus yields no article at all.
    """
    eval_set = load_eval_set(data)
    corpus = load_corpus(eval_set.corpus_path)
    if not corpus.articles:
        problems = "; ".join(str(p) for p in corpus.problems[:3])
        raise ValueError(f"{eval_set.corpus_path}: no articles loaded ({problems})")
    library = Library(corpus.articles)
    report = evaluate(library, eval_set, limit=limit)
    if offtopic is None:
        return report, None
    # Only the questions matter here: the other set's corpus and judgments go unread.
    questions = _read_queries(offtopic / "queries.jsonl")
    if limit is not None:
        questions = questions[:limit]
    return report, evaluate_offtopic(library, (q.text for q in questions))


def format_table(report: Report, *, offtopic: float | None = None) -> str:
    """The figures as an aligned two-column plain-text table, with the off-topic share if given."""
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
        rows.append(("abstained", f"{report.abstained:.4f}"))
    if offtopic is not None:
        rows.append(("off-topic declined", f"{offtopic:.4f}"))
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    return "\n".join(f"{name:<{width}}  {value:>{value_width}}" for name, value in rows)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0
