"""Compose a reply: the sentences that answer a question, its terms in bold, and the source.

The composer trusts BM25 to find the passage, then asks two more questions of it:

- *Does it cover the question?* The share of the question's idf mass (the sum of its distinct terms'
  idf) that the passage contains. Rare terms carry the meaning of a question, so a passage that
  matches only "price" of "price of the Mars shuttle" covers little of it, whatever its raw score.
  A term no article contains has the highest idf of all, which is what makes off-topic questions
  fall below the threshold.
  A question whose every term the library uses needs less coverage than one with a word no article
  has, which is what most off-topic questions bring. Of the passages that cover the question, the
  one with the best BM25 score times the square root of its coverage is quoted.
- *Which sentences say it?* Each sentence of the passage is scored by the idf mass of the question
  terms it contains; the best one is kept, and neighbours join while they add question terms or
  give a short sentence its context, up to three sentences and about 600 characters. While the
  sentences still miss some of the question, the following ones join too: the answer is often the
  sentence after the one that repeats the question's words.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from enum import Enum

from bot.corpus import Article, is_heading
from bot.search import Hit, Library
from bot.text import Term, is_cjk, sentence_spans, terms, tokenize
from bot.texts import Language, text

MAX_MESSAGE = 4096  # Telegram's limit on a message's text
MAX_SNIPPET = 600
MAX_SENTENCES = 3
MIN_COVERAGE = 0.5
# A question all of whose terms the library uses needs less coverage: off-topic questions almost
# always bring a word no article has, answerable ones are often just worded unlike the passage.
KNOWN_TERMS_COVERAGE = 0.7  # times ``min_coverage``
COVERAGE_RANK_POWER = 0.5  # how much coverage counts in choosing among the covering passages
RELATED = 2
TITLE_TERM_WEIGHT = 0.1
CONTEXT_TERM_WEIGHT = 0.5
_SENTENCE_END = frozenset(".!?。！？\"'”’)")
_TITLE_CHARS = 200


class Status(Enum):
    """What became of a question."""

    ANSWERED = "answered"
    NOT_COVERED = "not_covered"
    NO_TERMS = "no_terms"
    EMPTY_LIBRARY = "empty_library"


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of the snippet: plain text, or a question term shown in bold."""

    text: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to one question, before it is rendered for Telegram or a console.

    ``matches`` are the passages (one per article) that cover the question, best first; the
    answer quotes ``matches[page]`` and names up to two of the others as related.
    """

    question: str
    status: Status
    snippet: tuple[Run, ...] = ()
    hit: Hit | None = None
    related: tuple[Article, ...] = ()
    coverage: float = 0.0
    matches: tuple[Hit, ...] = field(default=(), repr=False)
    page: int = 0

    @property
    def answered(self) -> bool:
        return self.status is Status.ANSWERED

    @property
    def sources(self) -> tuple[Article, ...]:
        """The cited article first, then the related ones."""
        return ((self.hit.article,) if self.hit else ()) + self.related


def answer(
    library: Library,
    question: str,
    *,
    context: str = "",
    page: int = 0,
    min_coverage: float = MIN_COVERAGE,
    max_chars: int = MAX_SNIPPET,
    candidates: int = 10,
) -> Answer:
    """Answer ``question`` from ``library``, or say why not.

    A passage answers when it covers ``min_coverage`` of the question, or 0.7 of that when the
    library knows every term of the question. ``context`` is the question a follow-up refers to
    ("and when does it ship?"): its terms join the search, at half weight in choosing sentences.
    ``page`` picks a later match ("More").
    """
    if not library.articles:
        return Answer(question, Status.EMPTY_LIBRARY)
    query_terms = tokenize(question)
    if not query_terms:
        return Answer(question, Status.NO_TERMS)
    context_terms = [t for t in tokenize(context) if t not in query_terms]
    weights = question_weights(library, context_terms + query_terms)
    hits = library.search_terms(context_terms + query_terms, k=candidates)
    if not weights or not hits:
        return Answer(question, Status.NOT_COVERED)
    if all(library.index.document_frequency(t) > 0 for t in weights):
        min_coverage *= KNOWN_TERMS_COVERAGE
    covering = [(h, c) for h in hits if (c := coverage(library, h, weights)) >= min_coverage]
    if not covering:
        return Answer(question, Status.NOT_COVERED, coverage=coverage(library, hits[0], weights))
    # BM25 favours a passage that repeats a few of the question's words; weighing its score by
    # the coverage favours the passage that has more of them.
    covering.sort(key=lambda pair: -pair[0].score * pair[1] ** COVERAGE_RANK_POWER)
    page = min(max(page, 0), len(covering) - 1)
    hit, share = covering[page]
    choose = {
        t: w * (CONTEXT_TERM_WEIGHT if t in context_terms else 1.0) for t, w in weights.items()
    }
    return Answer(
        question,
        Status.ANSWERED,
        snippet=tuple(quote(hit, choose, max_chars)),
        hit=hit,
        related=tuple(h.article for h, _ in covering if h is not hit)[:RELATED],
        coverage=share,
        matches=tuple(h for h, _ in covering),
        page=page,
    )


def quote(hit: Hit, weights: dict[str, float], max_chars: int = MAX_SNIPPET) -> list[Run]:
    """The sentences of ``hit``'s passage that answer a question with term ``weights``."""
    return pick_sentences(hit.passage.text, weights, max_chars, hit.article.title)


def question_weights(library: Library, query_terms: list[str]) -> dict[str, float]:
    """Each distinct question term with its idf: the weight it has in judging coverage.

    A CJK bigram that no passage contains is left out when some other CJK term of the question is
    found: questions are not segmented into words, so bigrams that straddle two words ("会在" of
    "发布会在哪里") are expected to be missing. A Latin word that no passage contains is kept, with
    the highest idf, because it names something the announcements never mention.
    """
    index = library.index
    distinct = list(dict.fromkeys(query_terms))
    # Only when some of the question's CJK terms are known is a missing bigram a straddle: against
    # a library without Chinese at all, none is known, and every one of them names something the
    # library never mentions.
    known_cjk = any(is_cjk(t) and index.document_frequency(t) > 0 for t in distinct)
    return {
        t: index.term_idf(t)
        for t in distinct
        if not (known_cjk and is_cjk(t) and index.document_frequency(t) == 0)
    }


def coverage(library: Library, hit: Hit, weights: dict[str, float]) -> float:
    """The share of the question's idf mass found in the hit's passage (title included)."""
    found = set(library.passage_terms[hit.row])
    return sum(w for t, w in weights.items() if t in found) / sum(weights.values())


def pick_sentences(
    passage: str, weights: dict[str, float], max_chars: int, title: str = ""
) -> list[Run]:
    """Choose the passage's sentences that answer the question, with its terms marked bold.

    Terms of the article's title are shared by all its sentences, so they count for little in
    choosing between them: "How much will Xiaomi invest?" is answered by the sentence on the
    investment, not by any sentence that says "Xiaomi".
    """
    in_title = set(tokenize(title))
    choose = {t: w * (TITLE_TERM_WEIGHT if t in in_title else 1.0) for t, w in weights.items()}
    spans = sentence_spans(passage) or [(0, len(passage))]
    found = [{t.text for t in terms(passage[s:e])} & weights.keys() for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (sum(choose[t] for t in found[i]), -i))
    first = last = best
    covered = set(found[best])

    def fits(lo: int, hi: int) -> bool:
        return spans[hi][1] - spans[lo][0] <= max_chars

    def heading(i: int) -> bool:
        return is_heading(passage, *spans[i])

    # A heading or a lead-in ("Key figures:") needs the sentence after it to make sense.
    lead_in = passage[spans[best][1] - 1] not in _SENTENCE_END
    if lead_in and best + 1 < len(spans) and fits(best, best + 1):
        last = best + 1
        covered |= found[last]
    while last - first + 1 < MAX_SENTENCES:
        # A heading after the answer would introduce text that isn't shown.
        options = [
            (sum(choose[t] for t in found[i] - covered), i)
            for i in (first - 1, last + 1)
            if 0 <= i < len(spans)
            and fits(min(first, i), max(last, i))
            and not (i > last and heading(i))
        ]
        if not options or max(options)[0] <= 0:
            break
        i = max(options)[1]
        first, last = min(first, i), max(last, i)
        covered |= found[i]
    # When the sentences miss some of the question, the answer often follows the sentence that
    # repeats its words ("Lionsgate paid for ..." after "... Lionsgate, Paramount ... paid for movie
    # trailers"): show the next ones while they fit.
    while (
        weights.keys() - covered - in_title
        and last - first + 1 < MAX_SENTENCES
        and last + 1 < len(spans)
        and fits(first, last + 1)
        and not heading(last + 1)
    ):
        last += 1
    return _highlight(passage, spans[first][0], spans[last][1], weights, max_chars)


def _highlight(
    passage: str, start: int, end: int, weights: dict[str, float], max_chars: int
) -> list[Run]:
    """Split passage[start:end] into runs, question terms bold; trim it to ``max_chars``."""
    marks = [t for t in terms(passage[start:end]) if t.text in weights]
    prefix = suffix = ""
    if end - start > max_chars:
        # Keep the window of the sentence around its first question term.
        anchor = start + (marks[0].start if marks else 0)
        lo = max(start, min(anchor - max_chars // 4, end - max_chars))
        lo = _word_boundary(passage, lo, start)
        hi = min(end, lo + max_chars)
        prefix = "…" if lo > start else ""
        suffix = "…" if hi < end else ""
        marks = [
            Term(t.text, t.start + start - lo, t.end + start - lo)
            for t in marks
            if t.start + start >= lo and t.end + start <= hi
        ]
        start, end = lo, hi
    segment = passage[start:end]
    runs: list[Run] = [Run(prefix)] if prefix else []
    pos = 0
    for lo, hi in _merge(marks, segment):
        if lo > pos:
            runs.append(Run(segment[pos:lo]))
        runs.append(Run(segment[lo:hi], bold=True))
        pos = hi
    if pos < len(segment):
        runs.append(Run(segment[pos:]))
    if suffix:
        runs.append(Run(suffix))
    return runs


def _word_boundary(passage: str, pos: int, floor: int) -> int:
    """Move ``pos`` forward to the start of a word, so a trimmed snippet starts cleanly."""
    while pos > floor and pos < len(passage) and not passage[pos - 1].isspace():
        pos += 1
    return pos


def _merge(marks: list[Term], segment: str) -> list[tuple[int, int]]:
    """Join overlapping marks (CJK bigrams) and marks on one line separated only by spaces."""
    merged: list[tuple[int, int]] = []
    for mark in marks:
        gap = segment[merged[-1][1] : mark.start] if merged else "\n"
        if merged and (mark.start <= merged[-1][1] or gap.strip(" ") == ""):
            merged[-1] = (merged[-1][0], max(merged[-1][1], mark.end))
        else:
            merged.append((mark.start, mark.end))
    return merged


# --- Rendering ---------------------------------------------------------------------------------


def _clip(value: str, limit: int = _TITLE_CHARS) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def describe(article: Article) -> str:
    """An article's title and date, for lists: 'Title (2026-03-24)'."""
    title = _clip(article.title or article.id)
    return f"{title} ({article.date.isoformat()})" if article.date else title


def title_html(article: Article) -> str:
    """The article's title, linked when it has a URL and bold otherwise."""
    title = escape(_clip(article.title or article.id))
    if article.url:
        return f'<a href="{html.escape(article.url)}">{title}</a>'
    return f"<b>{title}</b>"


def cite_html(article: Article, lang: Language = "en") -> str:
    """The source line of an answer: title (linked), then date."""
    date = f" ({article.date.isoformat()})" if article.date else ""
    return f"{text('source', lang)}: {title_html(article)}{date}"


def render_html(result: Answer, lang: Language = "en") -> str:
    """Render an answer as Telegram HTML: escaped, terms bold, at most 4096 characters."""
    if not result.answered or result.hit is None:
        return escape(text(result.status.value, lang))
    snippet = "".join(
        f"<b>{escape(r.text)}</b>" if r.bold else escape(r.text) for r in result.snippet
    )
    parts = [snippet, "", cite_html(result.hit.article, lang)]
    if result.related:
        also = "; ".join(escape(describe(a)) for a in result.related)
        parts.append(f"{text('also', lang)}: {also}")
    return fit_message("\n".join(parts))


def render_plain(result: Answer, lang: Language = "en") -> str:
    """Render an answer as plain text, for the console."""
    if not result.answered or result.hit is None:
        return text(result.status.value, lang)
    article = result.hit.article
    lines = ["".join(r.text for r in result.snippet), ""]
    lines.append(f"{text('source', lang)}: {describe(article)}")
    if article.url:
        lines.append(article.url)
    if result.related:
        lines.append(f"{text('also', lang)}: " + "; ".join(describe(a) for a in result.related))
    return "\n".join(lines)


def escape(value: str) -> str:
    """Escape text for Telegram HTML."""
    # Text, not an attribute: quotes may stay as they are, which keeps "don't" readable.
    return html.escape(value, quote=False)


def fit_message(message: str, limit: int = MAX_MESSAGE) -> str:
    """Cut a message to Telegram's limit by whole lines, never inside a tag or an entity."""
    if _utf16_len(message) <= limit:
        return message
    lines = message.split("\n")
    while lines and _utf16_len("\n".join(lines)) > limit - 2:
        lines.pop()
    return "\n".join(lines) + "\n…"


def _utf16_len(value: str) -> int:
    # Telegram counts message length in UTF-16 code units.
    return len(value.encode("utf-16-le")) // 2
