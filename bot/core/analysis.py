"""Text analysis shared by passages and queries: one tokenizer, sentence splitting, term spans.

The tokenizer is the contract between the index and the questions: whatever it does to an article
it must do to a question, so both go through :func:`terms`. Each term remembers the characters it
came from, which is what lets the answer composer put the question's words in bold.

- Text is read through Unicode NFKC and case folding, so full-width digits, ligatures and case
  variants meet.
- Latin-script words lose English stopwords and are reduced by the Snowball English stemmer.
  "How many" and "how much" are question words; "many" and "much" anywhere else are not.
- A few words that announcements and the questions about them use for one thing share a term:
  "How much does it cost?" is answered by "Price: €189", "When does it start?" by "it begins".
  Only true synonyms are folded: "buy" and "available" say different things.
- Numbers stay whole: ``12,400``, ``1.6`` and ``2026`` are single terms; thousands separators are
  dropped so that ``12,400`` and ``12400`` meet.
- Chinese, Japanese and Korean runs become overlapping character bigrams, the usual lexical stand-in
  for word segmentation: every two-character word is one of the bigrams of any text containing it.
  Bigrams of Chinese question words ("什么", "是谁", "哪个") are dropped, as the English question
  words are: they carry no topic, and in an unsegmented question they are much of what it says.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

# Lucene's English stopwords plus the question words and auxiliaries that questions add but that
# carry no topic ("when does ... start?").
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves s t d ll m re ve
    also may might must shall us let get got
    """.split()  # noqa: SIM905 (a word list reads best as words)
)

_CJK = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0002ebef"  # CJK Extensions B-F
)
# A number with its separators, a CJK run, or a run of other letters and digits.
_TOKEN = re.compile(rf"\d+(?:[.,]\d+)+|[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]")
# Characters of Chinese question words: 什么 (what), 哪 (which, where), 谁 (who), 怎 (how), 几 (how
# many), and the question words without any of them: 多少 (how many), 如何 (how), 何时 (when), 为何
# (why), 时候 (of 什么时候, when).
_CJK_QUESTION = re.compile(r"[什么哪谁怎几]|多少|如何|何时|为何|时候")
# Words that make a question word of "how" ("how much does it cost?"); anywhere else they carry
# meaning ("continuous over many spans").
_HOW_WORDS = frozenset({"many", "much"})
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")

_stemmer = Stemmer.Stemmer("english")

# Groups of synonyms (see the module's docstring), each folded into its first word's stem.
_SYNONYMS = (
    "price cost fee tariff",
    "buy purchase bought",
    "begin start began begun commence",
    "refund reimburse",
)
_SAME: dict[str, str] = {
    stem: _stemmer.stemWord(group.split()[0])
    for group in _SYNONYMS
    for stem in _stemmer.stemWords(group.split()[1:])
}


@dataclass(frozen=True, slots=True)
class Term:
    """A term and the span of text it was read from."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=200_000)
def _normalize_word(raw: str) -> str | None:
    """Return the term for one non-CJK word, or None for a stopword."""
    word = unicodedata.normalize("NFKC", raw).casefold()
    if word[0].isdigit():
        # A word that starts with a digit is a number or a code ("12,400", "2026", "4k"): keep it.
        return word.replace(",", "") if _THOUSANDS.match(word) else word
    if word in STOPWORDS:
        return None
    stem: str = _stemmer.stemWord(word)
    return _SAME.get(stem, stem)


def terms(text: str) -> Iterator[Term]:
    """Yield the index terms of ``text`` with their character spans, in order."""
    previous = ""
    for match in _TOKEN.finditer(text):
        raw = match.group()
        start = match.start()
        after_how, previous = previous == "how", raw.casefold()
        if after_how and previous in _HOW_WORDS:
            continue
        if _CJK_RUN.match(raw):
            if len(raw) == 1:
                if not _CJK_QUESTION.search(raw):
                    yield Term(raw, start, start + 1)
                continue
            for i in range(len(raw) - 1):
                bigram = unicodedata.normalize("NFKC", raw[i : i + 2])
                if not _CJK_QUESTION.search(bigram):
                    yield Term(bigram, start + i, start + i + 2)
            continue
        term = _normalize_word(raw)
        if term is not None:
            yield Term(term, start, match.end())


def is_cjk(term: str) -> bool:
    """Whether ``term`` is a CJK character or bigram."""
    return bool(_CJK_RUN.match(term))


def tokenize(text: str) -> list[str]:
    """Return the index terms of ``text``: the one tokenizer for passages and queries."""
    return [term.text for term in terms(text)]


# A sentence ends at CJK end punctuation, or at ., ! or ? (with closing quotes or brackets) followed
# by white space. Line breaks end sentences too: list items and headings stand alone. The Chinese
# semicolon "；" does not end one: like the English ";", it joins clauses of one sentence, and the
# clause after it is often the answer to what the clause before it names.
_SENTENCE_END = re.compile(r"[。！？]+[”’」』）)]*|[.!?]+[\"'”’)\]]*(?=\s)|\n+")
# Words after which a full stop does not end the sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof st jr sr inc ltd co corp vs etc e.g i.e approx no fig dept est
    jan feb mar apr jun jul aug sep sept oct nov dec mt ft
    """.split()  # noqa: SIM905
)
_LAST_WORD = re.compile(r"([\w.]+)\.$")
# Letters of one or two between dots, as "U.S" of "U.S." or "Ph.D" of "Ph.D.": not a number, since
# "1.5." ends a sentence, nor lower case, which in all-lower-case text ("x.y. the") is ambiguous.
_INITIALISM = re.compile(r"(?=.*[A-Z])(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; return their (start, end) spans with white space trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if match.group()[0] == ".":
            last = _LAST_WORD.search(text, start, end)
            if last and _abbreviated(last.group(1)):
                continue
        _append_trimmed(spans, text, start, end)
        start = end
    _append_trimmed(spans, text, start, len(text))
    return spans


def _abbreviated(word: str) -> bool:
    """Whether a full stop after ``word`` marks an abbreviation rather than a sentence's end.

    Besides the listed abbreviations, an initial ("J. Smith") and a dotted initialism ("U.S.",
    "Ph.D.") abbreviate: "in the U.S. Army" is one sentence.
    """
    return word.casefold() in _ABBREVIATIONS or len(word) == 1 or bool(_INITIALISM.match(word))


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))
