"""Compose a reply: the sentences that answer a question, its terms in bold, and the source.

The composer trusts the library's ranking (BM25 and, with the semantic stage, meaning) to find the
article, then asks three more questions of it:

- *Does it answer the question?* With the semantic stage, :class:`Answerability`: the question
  must be close enough in meaning to one of the article's sentences, that sentence must stand
  out from text in general (or the passage share the question's rare words), and the question
  must name nothing the article never mentions (a year, a month, a model code, a name no
  announcement has).
  Without it, lexically, *does it cover the question?* The share of the question's idf mass (the sum
  of its distinct terms' idf) that the passage contains. Rare terms carry the meaning of a question,
  so a passage that matches only "price" of "price of the Mars shuttle" covers little of it,
  whatever its raw score. A word no article contains counts ``UNKNOWN_TERM_WEIGHT`` times its idf,
  itself the highest of all: it names something the announcements never mention, which is what most
  off-topic questions bring, and two such words sink a question further than one. Weighing the word,
  rather than raising the bar for any question that has one, lets a long question with one
  unfamiliar word be judged by its other words, while a short one still falls. A passage that has a
  word one typing slip away from it ("tackels", "counil") finds it, at its own idf: the question
  misspelt that word. Of the passages that cover the question, the best ranked is quoted.
- *Which sentences say it?* Every run of one to three consecutive sentences of the passage and its
  surroundings that fits about 600 characters is a candidate; the one with the largest idf mass of
  distinct question terms is shown, using the budget to show the answer's context: the answer is
  often the sentence after the one that repeats the question's words. Terms of the title, shared
  by every sentence, and CJK bigrams that straddle two words of the question do not count there.
  A question for a date, a count, a sum of money, a place or a name also asks for a sentence in
  the form of its answer (:mod:`bot.core.forms`). With the semantic stage the whole article is
  read, each sentence's closeness in meaning to the question counts beside its terms (and the
  answer's form at ``SEMANTIC_FORM_SHARE`` of that closeness's weight), and a run may cross the
  short paragraphs announcements are written in.
- *Did a later announcement change it?* :func:`newest_first`: the newer one is quoted, and the
  earlier one named with what it said.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache, lru_cache
from math import fsum

import numpy as np

from bot.core.analysis import STOPWORDS, Term, is_cjk, sentence_spans, terms, tokenize
from bot.core.corpus import Article, is_heading
from bot.core.forms import Form, answer_form
from bot.core.library import Evidence, Hit, Library, Similarity
from bot.core.phrases import Language, text
from bot.core.semantic import Vectors

MAX_MESSAGE = 4096  # Telegram's limit on a message's text
MAX_SNIPPET = 600
MAX_SENTENCES = 3
MIN_COVERAGE = 0.5  # the share of the question a related article or an inline result covers
# An answer needs less: answerable questions are often worded unlike the passage, and what sinks
# off-topic ones is the words no article has, which weigh more.
ANSWER_COVERAGE = 0.7  # times ``min_coverage``
UNKNOWN_TERM_WEIGHT = 2.2  # times its idf, for a question term that no passage contains
# The shortest (stemmed) word read as a misspelling of a passage's word one edit away: shorter
# words one edit apart are mostly different words ("radio" and "ratio", "heart" and "heat").
MIN_TYPO_CHARS = 6
RELATED = 2
RELATED_SCORE_SHARE = 0.5
CONTEXT_TERM_WEIGHT = 0.5
# What a window with a sentence of the answer's form gains, as a share of the question's weight:
# enough to choose between windows that show the question's words about as well, too little to
# prefer a date or a number to the sentence that says what the question asks.
ANSWER_FORM_SHARE = 0.2
TITLE_CHARS = 200
# How much the sentence closest in meaning to the question counts in choosing the sentences to
# quote, against the question's whole term mass (see _best_quote).
SEMANTIC_SENTENCE_WEIGHT = 4.0
# With meaning counted, a window with a sentence of the answer's form gains this share of the
# meaning's weight (a quarter of what the closest sentence gets over the farthest). At
# ANSWER_FORM_SHARE of the term mass, a twentieth of the meaning's weight, the form decided
# nothing. Measured on the announcement set with the forms of money and place: all shown on its
# dev half (even lines) 0.1 gave 0.750, 0.25, 0.5 and 1.0 each 0.760 (held-out odd half 0.800;
# 0.780 before both); 0.25 is the least that helps.
SEMANTIC_FORM_SHARE = 0.25
# The newest announcement wins (see newest_first): how many candidates are read, how close
# its sentence must be to the earlier one's and to the question, and how many words they share.
UPDATE_DEPTH = 5
RESTATED_COSINE = 0.91
UPDATE_CLOSENESS = 0.03
RESTATED_SHARE = 0.5
# How much a question may name that the cited article lacks and other passages have, in units of
# the rarest term's idf, before its meaning must stand out from text in general (Answerability).
# Cranfield's queries put to SQuAD's passages lack 4.3 units at the median and 2.35 at the 10th
# percentile; answerable questions 0.5 (SQuAD's, the announcement set's) at the median and under 2
# at the 90th percentile, and short questions in other words lack next to none.
ABSENT_MASS = 2.0
_NO_TERM = "\0"  # no passage has it: its idf is the rarest possible term's
_NUMBER = re.compile(r"[\d.,]+")
# With the semantic stage, "More" pages through the articles that rank this close to the best.
MORE_SCORE_SHARE = 0.5
# A number a question names: digits standing alone. Digits inside a Chinese question ("开5家店")
# are not read as one: counting them too declined 4 of CMRC's 3,219 answerable questions and
# not one more of the announcement set's off-topic questions.
_NUMBERS = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
# A press release's dateline: a place and a date before a dash, at the start of its first sentence.
_DATELINE = re.compile(r"^[^\n—–]{0,60}?(?:\d{4}|\d{1,2}日)\s*(?:——|—|–|--)\s*")
# A half-year or a quarter ("H1", "Q3"): a period, which articles write in words ("the six months
# to June"), not a model code or a name.
_PERIOD = r"[HhQq][1-4]"
# A model code: letters, then digits, in one word ("S4", "KT-220", "Y7"), but not a period.
_CODES = re.compile(rf"\b(?!{_PERIOD}\b)[A-Za-z]+-?\d+[A-Za-z]?\b")
# Months a question may name; not "may", which is mostly the verb.
_MONTHS = re.compile(
    r"\b(?:january|february|march|april|june|july|august|september|october|november|december)\b"
)
# With the semantic stage, the sentences this far either side of the passage may be quoted: all of
# an announcement of usual length.
WHOLE_ARTICLE_CHARS = 5000
# A window's closeness in meaning is its closest sentence's plus this share of its next closest:
# a run with two sentences on what the question asks says more than one with one (+4 of the
# announcement set's 200 questions against 0; 0.5 gave the same).
SECOND_SENTENCE_SHARE = 0.25
# With the sentences' meaning, a quote may be two pieces: a run of one or two sentences and one
# more sentence from elsewhere, joined by this mark (pick_sentences). Of the announcement set's
# questions, the answer is in the right article's closest sentence for 66 %, in one of its two
# closest for 82 %, and those two are seldom neighbours. All shown 0.775 -> 0.825
# (even lines 0.760 -> 0.830, odd lines 0.790 -> 0.820; 11 questions gained, 1 lost), the median
# quote 310 -> 288 characters. Any one to three sentences, in up to three pieces: 0.815.
PIECE_GAP = " … "
# Chinese function characters: the particles 的 and 了, the copula 是, and the prepositions and
# conjunctions 在, 有, 以, 和, 与, 于. A question bigram with one of them mostly joins two words.
_CJK_FUNCTION_CHARS = frozenset("的是了在有以和与于")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD_SEARCH = 20  # how far a trimmed snippet's start may move to reach a word


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
class Replaced:
    """An earlier announcement that a later one changed: what it said, to name beside the new."""

    article: Article
    said: str


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to one question, before it is rendered for Telegram or a console.

    ``matches`` are the passages (one per article) that cover the question, best first; the
    answer quotes ``matches[page]`` (or the sentences just around it) and names up to two of the
    others as related.
    """

    question: str
    status: Status
    snippet: tuple[Run, ...] = ()
    hit: Hit | None = None
    related: tuple[Article, ...] = ()
    coverage: float = 0.0
    matches: tuple[Hit, ...] = field(default=(), repr=False)
    page: int = 0
    replaced: Replaced | None = None

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

    With a semantic stage, a passage answers when :func:`answerability` says so; without one,
    when it covers 0.7 of ``min_coverage`` of the question (see :func:`coverage`). Related
    articles need the full ``min_coverage``.
    ``context`` is the question a follow-up refers to ("and when does it ship?"): its terms join
    the search, at half weight in choosing sentences. ``page`` picks a later match ("More").
    """
    if not library.articles:
        return Answer(question, Status.EMPTY_LIBRARY)
    query_terms = tokenize(question)
    vector = library.encode_query(f"{context} {question}".strip())
    if not query_terms and vector is None:
        return Answer(question, Status.NO_TERMS)
    context_terms = [t for t in tokenize(context) if t not in query_terms]
    weights = question_weights(library, context_terms + query_terms)
    form = answer_form(question)
    evidence = library.evidence(context_terms + query_terms, form, vector, k=candidates)
    hits = library.best_per_article(evidence.fused, candidates, evidence.rows)
    if not hits:
        return Answer(question, Status.NOT_COVERED)
    choose = {
        t: w * (CONTEXT_TERM_WEIGHT if t in context_terms else 1.0) for t, w in weights.items()
    }
    replaced = None
    if vector is None:
        answers_at = min_coverage * ANSWER_COVERAGE
        judged = [(h, coverage(library, h, weights)) for h in hits] if weights else []
        covering = [(h, c) for h, c in judged if c >= answers_at]
        if not covering:
            best = judged[0][1] if judged else 0.0
            return Answer(question, Status.NOT_COVERED, coverage=best)
    else:
        judged = [(h, coverage(library, h, weights) if weights else 0.0) for h in hits]
        if not answerability(library, evidence, hits[0], question, vector).answers:
            return Answer(question, Status.NOT_COVERED, coverage=judged[0][1])
        # The best answers; "More" pages through the others that rank nearly as well.
        covering = [(h, c) for h, c in judged if h.score >= MORE_SCORE_SHARE * hits[0].score]
        asked = Asked(frozenset(context_terms + query_terms), form)
        covering, replaced = newest_first(library, evidence, covering, hits, asked)
    page = min(max(page, 0), len(covering) - 1)
    hit, share = covering[page]
    if page:
        replaced = None
    # "Also" names only articles that answer nearly as well: the full bar, and half the score of
    # the best, so that a busy chat isn't sent titles that merely share a word with the question.
    related = [
        h.article
        for h, c in covering
        if h is not hit and c >= min_coverage and h.score >= RELATED_SCORE_SHARE * hit.score
    ]
    return Answer(
        question,
        Status.ANSWERED,
        snippet=tuple(quote(hit, choose, max_chars, form, library.similarity(vector))),
        hit=hit,
        related=tuple(related[:RELATED]),
        coverage=share,
        matches=tuple(h for h, _ in covering),
        page=page,
        replaced=replaced,
    )


def newest_first(
    library: Library,
    evidence: Evidence,
    covering: list[tuple[Hit, float]],
    candidates: Sequence[Hit],
    asked: Asked,
) -> tuple[list[tuple[Hit, float]], Replaced | None]:
    """Put a later announcement that changed the best one's answer first, and name the earlier.

    The best article answers the question with its closest sentence. Another candidate article
    *restates* that sentence when one of its sentences is about as close to the question, close in
    meaning to it (cosine at least ``RESTATED_COSINE``), with most of its words (half of the fewer
    sentence's terms, numbers aside), and with other numbers or words: the fact changed ("14
    reports" became "31 reports", "Ardle Country Park" became "Millbrook Showground"). Only the
    ``UPDATE_DEPTH`` best ``candidates`` are read. If the restating article is the later one, it
    is quoted and the best one named with what it said; if the best is the later one, it stays
    first and the earlier one is named. What only the earlier one says keeps
    its place: no later sentence restates it.

    The closest sentence is the answer only if it is about what was ``asked``: it has one of
    the question's terms or the form of its answer. The model tells an announcement's sentences
    apart by hundredths, and "who is the board secretary" can be closest to a changed profit
    forecast; a later forecast then is no update of the answer, and naming it would send the
    reader to the wrong announcement with a line that has nothing to do with the question.
    """
    if evidence.sentences is None:
        return covering, None
    best, _ = covering[0]
    sentences = library.article_sentences(best.row)
    said = int(sentences[np.argmax(evidence.sentences[sentences])])
    close = float(evidence.sentences[said])
    if not asked.about(library.sentence_text(said)):
        return covering, None
    for hit in candidates[1:UPDATE_DEPTH]:
        rows = library.article_sentences(hit.row)
        cosines = library.sentence_cosines(said, rows)
        other = int(rows[np.argmax(cosines)])
        if not (
            float(cosines.max()) >= RESTATED_COSINE
            and float(evidence.sentences[other]) >= close - UPDATE_CLOSENESS
            and _restates(library.sentence_text(said), library.sentence_text(other))
        ):
            continue
        if _later(hit.article, best.article):
            share = next((c for h, c in covering if h is hit), 0.0)
            reordered = [(hit, share), *((h, c) for h, c in covering if h is not hit)]
            return reordered, Replaced(best.article, library.sentence_text(said))
        if _later(best.article, hit.article):
            return covering, Replaced(hit.article, library.sentence_text(other))
    return covering, None


@dataclass(frozen=True, slots=True)
class Asked:
    """What a question asks: its terms (with a follow-up's context) and its answer's form."""

    terms: frozenset[str]
    form: Form | None

    def about(self, sentence: str) -> bool:
        """Whether ``sentence`` says something of it: one of its terms, or an answer's form."""
        if self.terms & _term_set(sentence):
            return True
        return self.form is not None and self.form.shown_in(sentence)


def _later(article: Article, than: Article) -> bool:
    return article.date is not None and than.date is not None and article.date > than.date


def _restates(earlier: str, later: str) -> bool:
    """Whether ``later`` says the same of the same thing as ``earlier``, with something changed."""
    old, new = set(tokenize(earlier)), set(tokenize(later))
    old_words = {t for t in old if not _NUMBER.fullmatch(t)}
    new_words = {t for t in new if not _NUMBER.fullmatch(t)}
    shared = old_words & new_words
    fewer = min(len(old_words), len(new_words))
    return fewer > 0 and len(shared) >= RESTATED_SHARE * fewer and old != new


@dataclass(frozen=True, slots=True)
class Answerability:
    """The evidence that the best article answers a question, in other words than its own or not.

    ``closest`` is the cosine of the question with the article's closest sentence: a question
    about something else altogether (a football final put to announcements on aircraft) stays
    far from every sentence, whatever words it shares with them; ``floor`` is the model's least
    cosine of an answered question. ``missing`` lists what the question names that the article
    doesn't: numbers and months it never mentions ("in 2023", "in November"), model codes ("the
    Halo S4"), and names no announcement has, written as names ("does the ferry go to Lisbon?").

    A question from another field (how a boundary layer behaves behind a shock, put to a library
    that mentions aircraft) can reach the floor all the same: this model's cosines are compressed,
    and the more sentences a library has, the closer the closest of them is to any question. Two
    more pieces of evidence catch it together. ``absent`` is the idf mass of the question's
    words that other passages have and this article lacks, in units of the library's rarest
    term's idf: the question names several things the library knows of, elsewhere. Only words
    of scripts with spaces count: a Chinese question's bigrams straddle its words, so a Chinese
    question from another field is left to the floor, which is higher for Chinese. ``standout``
    is how far the closest sentence stands above text in general: ``closest`` less the question's
    cosine with the model's background (:attr:`Embedder.background`). A question the article
    answers in other words stands out, or names little that the article lacks; one from another
    field does neither. ``min_standout`` is the model's least standout of such a question.

    ``shares`` tells whether the article has any of the question's words. Small talk put to the
    bot ("what is the weather tomorrow", "when is the next outage", 今天天气怎么样) names nothing
    the library knows, so ``absent`` is nil, and a short question is close to some sentence of
    every article: the floor lets it by. A question that shares no word with the article must
    then stand out at least ``least_standout``, which nearly every answerable question does.

    Measured and left out: how far the closest sentence stands above the article's others (a
    question the article answers is close to one sentence; one it doesn't, to all of them about
    equally) declined 10 % of the announcement set's off-topic questions for every 4 % of its
    answerable ones, and nothing at all for a one-sentence channel post; and whether removing an
    unknown word brings the question closer to the article ("toaster") declined a paraphrase
    ("at the weekend" for "on Sundays") as often as an off-topic question. The standout against
    the embedding of an empty passage instead of the background separated the fields less well
    (docs/quality.md has the figures).
    """

    closest: float
    floor: float
    missing: tuple[str, ...]
    absent: float
    standout: float
    min_standout: float
    shares: bool
    least_standout: float

    @property
    def answers(self) -> bool:
        elsewhere = self.absent >= ABSENT_MASS and self.standout < self.min_standout
        small_talk = not self.shares and self.standout < self.least_standout
        return not self.missing and self.closest >= self.floor and not (elsewhere or small_talk)


def answerability(
    library: Library, evidence: Evidence, hit: Hit, question: str, vector: Vectors
) -> Answerability:
    """Weigh whether ``hit``'s article answers ``question``, whose embedding is ``vector`` (see
    :class:`Answerability`)."""
    assert evidence.sentences is not None
    embedder = library.embedder
    assert embedder is not None
    rows = library.article_sentences(hit.row)
    closest = float(evidence.sentences[rows].max()) if rows.size else -1.0
    floor = embedder.min_cosine(cjk=any(is_cjk(c) for c in question))
    article = hit.article
    said = f"{article.title}\n{article.text}"
    folded = said.casefold()
    missing = [n for n in _NUMBERS.findall(question) if not _has_number(folded, n)]
    missing += [m for m in _MONTHS.findall(question.casefold()) if m not in folded]
    missing += [c for c in _CODES.findall(question) if c.casefold() not in folded]
    missing += [name.text for name in _unknown_names(library, question)]
    index = library.index
    has = set(tokenize(said))
    asked = dict.fromkeys(tokenize(question))
    # A CJK bigram of an unsegmented question often straddles two of its words ("价是" of
    # "票价是多少"), and that other passages have it says nothing of what the question names.
    absent = fsum(
        index.term_idf(t)
        for t in asked
        if t not in has and not is_cjk(t) and index.document_frequency(t) > 0
    )
    return Answerability(
        closest,
        floor,
        tuple(missing),
        absent=absent / index.term_idf(_NO_TERM),
        standout=closest - float(vector @ embedder.background),
        min_standout=embedder.min_standout,
        shares=not has.isdisjoint(asked),
        least_standout=embedder.least_standout,
    )


def _has_number(text: str, number: str) -> bool:
    """Whether ``text`` has ``number`` as a whole number ("31" is not in "2031"), in digits or,
    below a hundred, in words: announcements spell small numbers out ("three new stores", "the
    fifth of May"), as style guides ask, and people type them as digits."""
    if re.search(rf"(?<![\d.,]){re.escape(number)}(?![\d])", text.replace(",", "")):
        return True
    if not number.isdigit() or int(number) >= _WORDED_BELOW:
        return False
    return any(re.search(rf"\b{w}\b", text) for w in _number_words(int(number)))


_WORDED_BELOW = 100  # larger numbers are written in digits
_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth"}
_ORDINAL_ENDINGS |= {"eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


@cache
def _number_words(number: int) -> tuple[str, ...]:
    """``number`` (0-99) in English words, cardinal and ordinal ("twenty-one", "twenty one",
    "twenty-first", "twenty first")."""
    if number < len(_UNITS):
        cardinals = [_UNITS[number]]
    else:
        tens, unit = _TENS[number // 10 - 2], _UNITS[number % 10]
        cardinals = [tens] if number % 10 == 0 else [f"{tens}-{unit}", f"{tens} {unit}"]
    return (*cardinals, *(_ordinal(c) for c in cardinals if number))


def _ordinal(cardinal: str) -> str:
    """The ordinal of an English cardinal: "first" of "one", "twenty-first" of "twenty-one"."""
    cut = max(cardinal.rfind("-"), cardinal.rfind(" ")) + 1
    head, last = cardinal[:cut], cardinal[cut:]
    if last in _ORDINAL_ENDINGS:
        return head + _ORDINAL_ENDINGS[last]
    return head + (last[:-1] + "ieth" if last.endswith("y") else last + "th")


def _unknown_names(library: Library, question: str) -> list[Term]:
    """The question's words written as names (capitalised, not first) that no passage has.

    A misspelling of a known word is no name, nor a period ("H1"), nor a word at the start of the
    question or after its end, which is capitalised whatever it is.
    """
    found = [
        t
        for t in terms(question)
        if t.start > 0
        and question[t.start].isupper()
        and question[: t.start].rstrip()[-1:] not in (".", "!", "?")
        and not is_cjk(t.text)
        and not re.fullmatch(_PERIOD, question[t.start : t.end])
        and library.index.document_frequency(t.text) == 0
    ]
    if not found:
        return []
    known = set(library.index.vocabulary) | STOPWORDS
    return [t for t in found if not _misspells(t.text, known)]


def quote(
    hit: Hit,
    weights: dict[str, float],
    max_chars: int = MAX_SNIPPET,
    form: Form | None = None,
    similarity: Similarity | None = None,
) -> list[Run]:
    """The sentences at ``hit``'s passage that answer a question with term ``weights``.

    A passage ends where the index cut the article, not where its subject does: the answer is
    often just across the cut. So the sentences within ``max_chars`` either side of the passage,
    all that a snippet overlapping it could show, are candidates too.
    """
    # With the sentences' meaning to go by, the whole article is read when it is short enough:
    # a question in other words than the article's often picks the passage that names its
    # subject, and the answer is a few sentences on.
    reach = max_chars if similarity is None else WHOLE_ARTICLE_CHARS
    text = quotable(hit, reach)
    return pick_sentences(text, weights, max_chars, hit.article.title, form, similarity)


def quotable(hit: Hit, reach: int = MAX_SNIPPET) -> str:
    """The hit's passage with the whole sentences within ``reach`` characters either side."""
    text, passage = hit.article.text, hit.passage
    near = [
        (start, end)
        for start, end in _sentences(text)
        if passage.start - reach <= start and end <= passage.end + reach
    ]
    start = min([passage.start, *(s for s, _ in near)])
    end = max([passage.end, *(e for _, e in near)])
    return text[start:end]


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
    """The share of the question's idf mass found in the hit's passage (title included).

    A term no passage contains weighs ``UNKNOWN_TERM_WEIGHT`` times its idf, unless this passage
    has a word it misspells: then it is found, at its own idf.
    """
    has = library.passage_has(hit.row, weights)
    # The passage's terms, listed only to look for a misspelling of a word no passage has.
    words = cache(lambda: set(library.passage_terms[hit.row]))
    found = total = 0.0
    for term, weight in weights.items():
        unknown = library.index.document_frequency(term) == 0
        if term in has or (unknown and _misspells(term, words())):
            found += weight
        elif unknown:
            weight *= UNKNOWN_TERM_WEIGHT
        total += weight
    return found / total


def _misspells(term: str, words: set[str]) -> bool:
    """Whether ``term`` is a misspelling of one of ``words``: one letter off, or two swapped.

    Only for words of ``MIN_TYPO_CHARS`` letters or more, and never in the first letter, which is
    seldom mistyped: one edit to a short word, or to a first letter, mostly makes another word.
    """
    if len(term) < MIN_TYPO_CHARS or not term.isalpha():
        return False
    return any(word[0] == term[0] and _one_edit(term, word) for word in words if word.isalpha())


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one insertion, deletion, substitution or transposition."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) < len(b):  # one letter more in b
        return a[start:] == b[start + 1 :]
    if start == len(a):  # equal words are not a slip
        return False
    swapped = b[start + 1 : start + 2] + b[start : start + 1]
    return a[start + 1 :] == b[start + 1 :] or (
        a[start : start + 2] == swapped and a[start + 2 :] == b[start + 2 :]
    )


def pick_sentences(
    passage: str,
    weights: dict[str, float],
    max_chars: int,
    title: str = "",
    form: Form | None = None,
    similarity: Similarity | None = None,
) -> list[Run]:
    """Choose the passage's sentences that answer the question, with its terms marked bold.

    Every run of one to three consecutive sentences that fits ``max_chars`` is a candidate, and
    the one holding the largest idf mass of distinct question terms is shown: a window, not a
    single best sentence, because the answer is often the sentence beside the one that repeats
    the question's words. Of windows that cover as much, the one with the best single sentence
    wins, then the one in fewer pieces, then the one whose sentences are closer in meaning in all,
    then the one naming more of the title's terms, then the longer one (the budget is there to
    give the answer its context), then the one where its best sentence comes first (the answer
    tends to follow it), then the earliest.

    With the sentences' meaning (``similarity``), a run of one or two sentences may also be
    quoted with one more sentence from elsewhere in the text, the gap marked with an ellipsis and
    the closer piece first: the model tells an announcement's sentences apart by hundredths, and
    the sentence that names what the question asks about and the one that answers it are its two
    closest more often than they are neighbours (see ``PIECE_GAP``). The first sentence under a
    heading is as close in meaning as the heading, which says what the section is about.

    Some question terms say nothing about which sentence answers:

    - Terms of the article's title are shared by all its sentences: "How much will Xiaomi
      invest?" is answered by the sentence on the investment, not by any sentence that says
      "Xiaomi". When the question names nothing but the subject, the first sentences win, which
      is where an article says what its subject is.
    - A CJK bigram with a function character ("店的", "是哪") straddles two words of the
      unsegmented question; that it occurs in a sentence is chance.
    """
    choose = _choosing_weights(weights, title)
    runs: list[Run] = []
    for start, end in _best_quote(passage, weights, max_chars, title, form, similarity):
        if runs:
            runs.append(Run(PIECE_GAP))
        runs += _highlight(passage, start, end, weights, choose, max_chars)
    return runs


def _choosing_weights(weights: dict[str, float], title: str) -> dict[str, float]:
    """The question terms that tell sentences apart: not the title's, nor straddling bigrams."""
    in_title = set(tokenize(title))
    return {t: w for t, w in weights.items() if t not in in_title and not _straddles_words(t)}


def _best_quote(
    passage: str,
    weights: dict[str, float],
    max_chars: int,
    title: str,
    form: Form | None,
    similarity: Similarity | None,
) -> list[tuple[int, int]]:
    """The character spans of the pieces (runs of sentences) :func:`pick_sentences` shows."""
    choose = _choosing_weights(weights, title)
    in_title = set(tokenize(title)) & weights.keys()
    spans = list(_sentences(passage)) or [(0, len(passage))]
    found = [_term_set(passage[s:e]) for s, e in spans]
    chosen = [f & choose.keys() for f in found]
    named = [f & in_title for f in found]
    # Sums over sets go through fsum, which is exact whatever the (hash-seeded) order of the set:
    # windows that tie must tie in every run.
    single = [fsum(choose[t] for t in f) for f in chosen]
    # A dateline ("London, 15 April 2025 —") dates the announcement, not what a question asks.
    formed = [
        form is not None and form.shown_in(_DATELINE.sub("", passage[s:e], count=1))
        for s, e in spans
    ]
    form_bonus = ANSWER_FORM_SHARE * fsum(weights.values())
    meaning = [0.0] * len(spans)
    if similarity is not None:
        # The sentences' cosines with the question, from 0 (the least of them) to 1 (the
        # most), weighed like the question's whole term mass: a sentence that says what the
        # question asks in other words then counts as much as one that repeats all its words.
        cosines = list(similarity(title, [passage[s:e] for s, e in spans]))
        # A heading is never quoted, but it names what its section is about: "Planned
        # maintenance on 15 March 2026" is the closest line to "when is the maintenance", and
        # the sentence under it, which gives the hours, is the 19th of 25 by itself. The first
        # sentence of a section is as close as its heading.
        for i in range(len(spans) - 1):
            if is_heading(passage, *spans[i]):
                cosines[i + 1] = max(cosines[i + 1], cosines[i])
        low, high = min(cosines), max(cosines)
        mass = SEMANTIC_SENTENCE_WEIGHT * max(fsum(choose.values()), 1.0)
        meaning = [mass * (c - low) / (high - low) if high > low else 0.0 for c in cosines]
        # Beside meaning weighed like this, a share of the term mass is too little to count.
        form_bonus = SEMANTIC_FORM_SHARE * mass
    # How much each sentence says of what is asked: its words, and its meaning.
    says = [s + m for s, m in zip(single, meaning, strict=True)]

    def rank(quoted: tuple[int, ...]) -> tuple[float, float, int, float, float, int, int, int]:
        peak = max(quoted, key=lambda i: (says[i], -i))
        return (
            fsum(choose[t] for t in set().union(*(chosen[i] for i in quoted)))
            + _window_meaning([meaning[i] for i in quoted])
            + form_bonus * any(formed[i] for i in quoted),
            says[peak],
            -len(_pieces(quoted)),
            fsum(meaning[i] for i in quoted),
            fsum(weights[t] for t in set().union(*(named[i] for i in quoted))),
            len(quoted),
            quoted[0] - peak,
            -quoted[0],
        )

    best = max(_quotes(passage, spans, max_chars, across=similarity is not None), key=rank)

    # The piece with the sentence that says most of what is asked comes first, the reader's eye
    # on the answer; a tie keeps the text's order. Of the announcement set's replies that show
    # the answer, 120 had it in the first piece in the text's order and 135 in this one (dev half
    # 61 -> 71, held-out 59 -> 64); which sentences are quoted does not change.
    pieces = sorted(_pieces(best), key=lambda p: max(says[p[0] : p[1] + 1]), reverse=True)
    return [(spans[first][0], spans[last][1]) for first, last in pieces]


def _window_meaning(meaning: list[float]) -> float:
    """A window's closeness in meaning: its closest sentence's, and a share of the next one's."""
    ranked = sorted(meaning, reverse=True)
    return ranked[0] + SECOND_SENTENCE_SHARE * (ranked[1] if len(ranked) > 1 else 0.0)


def windows(text: str, max_chars: int = MAX_SNIPPET) -> list[tuple[int, int]]:
    """The character spans of ``text`` that :func:`pick_sentences` chooses among."""
    spans = list(_sentences(text)) or [(0, len(text))]
    return [(spans[first][0], spans[last][1]) for first, last in _windows(text, spans, max_chars)]


@lru_cache(maxsize=4096)
def _sentences(text: str) -> tuple[tuple[int, int], ...]:
    """The sentence spans of ``text``, cached like :func:`_term_set`."""
    return tuple(sentence_spans(text))


@lru_cache(maxsize=8192)
def _term_set(text: str) -> frozenset[str]:
    """The distinct terms of ``text``, cached: the same passages answer question after question."""
    return frozenset(tokenize(text))


def _quotes(
    passage: str, spans: list[tuple[int, int]], max_chars: int, *, across: bool
) -> list[tuple[int, ...]]:
    """The sentences that may be quoted together, by their indexes: the windows of
    :func:`_windows`; and, ``across`` paragraphs, a window of one or two sentences with one more
    sentence that is not beside it, all within ``max_chars`` with the gap's mark.

    The sentence from elsewhere stands alone, so it must be neither a heading nor a lead-in
    ("Key figures:") without what it introduces.
    """
    windows = [
        tuple(range(first, last + 1))
        for first, last in _windows(passage, spans, max_chars, across=across)
    ]
    if not across:
        return windows
    alone = [
        i
        for i, (start, end) in enumerate(spans)
        if not is_heading(passage, start, end) and passage[end - 1] not in ":："
    ]
    # A dict, in order: two single sentences are each the other's sentence from elsewhere.
    quotes = dict.fromkeys(windows)
    for window in windows:
        if len(window) == MAX_SENTENCES:
            continue
        used = sum(spans[i][1] - spans[i][0] for i in window) + len(PIECE_GAP)
        for other in alone:
            if window[0] - 1 <= other <= window[-1] + 1:
                continue
            if used + spans[other][1] - spans[other][0] <= max_chars:
                quotes[tuple(sorted((*window, other)))] = None
    return list(quotes)


def _pieces(quoted: tuple[int, ...]) -> list[tuple[int, int]]:
    """The runs of consecutive sentence indexes in ``quoted`` (ascending), as (first, last)."""
    pieces: list[tuple[int, int]] = []
    for i in quoted:
        if pieces and pieces[-1][1] == i - 1:
            pieces[-1] = (pieces[-1][0], i)
        else:
            pieces.append((i, i))
    return pieces


def _straddles_words(term: str) -> bool:
    """Whether ``term`` is a CJK bigram with a function character, as across two words."""
    return len(term) == 2 and is_cjk(term) and any(c in _CJK_FUNCTION_CHARS for c in term)


def _windows(
    passage: str, spans: list[tuple[int, int]], max_chars: int, *, across: bool = False
) -> list[tuple[int, int]]:
    """The (first, last) sentence runs that may be shown: up to three that fit ``max_chars``.

    A single sentence always may, trimmed if need be. A window stays within a paragraph, which
    keeps to one subject, unless ``across``: with the sentences' meaning to choose by, the run
    that holds the answer may start in the paragraph before (announcements are written in short
    paragraphs, and the answer often follows the one that names what the question asks about).
    A heading is no answer, nor part of one: it names the subject of the paragraphs after it.
    A sentence that leads in ("Key figures:") may end a window only when the sentence
    it introduces cannot join it.
    """

    def joins(first: int, last: int) -> bool:
        # Whether sentence ``last`` may join the window of ``first`` to ``last - 1``.
        gap = passage[spans[last - 1][1] : spans[last][0]]
        if spans[last][1] - spans[first][0] > max_chars or is_heading(passage, *spans[last]):
            return False
        return across or not _PARAGRAPH_BREAK.search(gap)

    windows: list[tuple[int, int]] = []
    for first in range(len(spans)):
        if is_heading(passage, *spans[first]):
            continue
        for last in range(first, min(first + MAX_SENTENCES, len(spans))):
            if last > first and not joins(first, last):
                break
            following = last + 1 < len(spans) and joins(first, last + 1)
            if not (following and passage[spans[last][1] - 1] in ":："):
                windows.append((first, last))
    return windows or [(0, 0)]


def _highlight(
    passage: str,
    start: int,
    end: int,
    weights: dict[str, float],
    choose: dict[str, float],
    max_chars: int,
) -> list[Run]:
    """Split passage[start:end] into runs, question terms bold; trim it to ``max_chars``.

    A sentence too long to show whole is cut to the stretch of ``max_chars`` that holds the most
    of the ``choose`` weight, starting a little before its first term: the answer tends to follow
    the words of the question, seldom to precede them.
    """
    marks = [t for t in terms(passage[start:end]) if t.text in weights]
    prefix = suffix = ""
    if end - start > max_chars:
        lo = _densest_start(passage, start, end, marks, choose or weights, max_chars)
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


def _densest_start(
    passage: str,
    start: int,
    end: int,
    marks: list[Term],
    weights: dict[str, float],
    max_chars: int,
) -> int:
    """Where to start a ``max_chars`` cut of passage[start:end] to show most question terms.

    Each term's mark is a possible anchor, with a quarter of the budget kept before it; the
    anchor whose stretch holds the largest weight of distinct terms wins, the earliest on a tie.
    """
    anchors = [max(start, min(start + m.start - max_chars // 4, end - max_chars)) for m in marks]

    def held(lo: int) -> float:
        inside = {
            m.text for m in marks if lo <= start + m.start and start + m.end <= lo + max_chars
        }
        return fsum(weights.get(t, 0.0) for t in inside)

    best_lo = max(anchors, key=lambda lo: (held(lo), -lo)) if anchors else start
    return _word_boundary(passage, best_lo, start)


def _word_boundary(passage: str, pos: int, floor: int) -> int:
    """Move ``pos`` forward to the start of a word, so a trimmed snippet starts cleanly.

    CJK text has no spaces, so any character starts a word there; and the move is short, lest a
    text without spaces lose the stretch the cut was placed for.
    """
    for moved in range(pos, min(len(passage), pos + _WORD_SEARCH)):
        if moved <= floor or passage[moved - 1].isspace() or is_cjk(passage[moved]):
            return moved
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


def clip(value: str, limit: int = TITLE_CHARS) -> str:
    """Cut ``value`` to ``limit`` characters, marking the cut with an ellipsis."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def describe(article: Article) -> str:
    """An article's title and date, for lists: 'Title (2026-03-24)'."""
    title = clip(article.title or article.id)
    return f"{title} ({article.date.isoformat()})" if article.date else title


def title_html(article: Article) -> str:
    """The article's title, linked when it has a URL and bold otherwise."""
    title = escape(clip(article.title or article.id))
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
    if result.replaced is not None:
        parts.append(escape(replaced_line(result, lang)))
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
    if result.replaced is not None:
        lines.append(replaced_line(result, lang))
    if result.related:
        lines.append(f"{text('also', lang)}: " + "; ".join(describe(a) for a in result.related))
    return "\n".join(lines)


def replaced_line(result: Answer, lang: Language = "en") -> str:
    """The line that names the earlier announcement a later one changed, with what it said."""
    assert result.hit is not None
    assert result.replaced is not None
    new, old = result.hit.article, result.replaced.article
    return text(
        "replaced",
        lang,
        new=new.date.isoformat() if new.date else "",
        old=old.date.isoformat() if old.date else "",
        said=clip(" ".join(result.replaced.said.split()), MAX_SNIPPET // 2),
    )


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
