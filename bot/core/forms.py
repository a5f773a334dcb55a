"""The form of an answer: what a "when", "how many", "where" or "who" question asks for.

A question's terms say what it is about, not what its answer looks like. "When does the Halo
ship?" is answered by a sentence with a date, "How many kettles are recalled?" by one with a
number, "Who leads the team?" by one with a name; the sentence that merely repeats "ship" or
"recalled" is not the answer. :func:`answer_form` reads the form a question asks for, and
:meth:`Form.shown_in` tells whether a sentence has a piece of text of that form that the question
does not already have ("When did the 1973 crisis begin?" is not answered by "1973").

English forms: a date is a year or a month's name, a number is digits or a number word, a name is
a capitalised word that does not start its sentence. A question about money ("how much does it
cost", "what does it charge if I miss it", "what kind of money are new hires offered") asks for a
sum: a currency sign before digits or a currency after them, not any number (an announcement's
sentences are full of dates and counts). "Where" asks for a place: a capitalised name after a
preposition of place ("at Wapping Wharf", "between Ferrisby and Holt Junction"), not any name
(every sentence names the organisation).

Chinese forms: a date is a number with 年, 月, 日 or 世纪 (or 年代); a count (多少, 几) is a number
with the measure word the question puts after it ("几辑" is answered by "三辑"), or any digits when
it names none; a price (多少钱) is a sum of money ("2,499元").

The forms of money and place were measured on the announcement set with the semantic stage (all
shown; see ``SEMANTIC_FORM_SHARE`` in :mod:`bot.core.answer`): its dev half (even lines) 0.750 ->
0.760 (place +1, money 0), its held-out odd half 0.790 -> 0.800 (money +1, place 0); SQuAD with
the lexical bot, Recall@1 0.8259 -> 0.8260, answer shown 0.8189 -> 0.8197, declined 0.0170 as
before; CMRC unchanged. A duration for "how long", a place for 哪里 and a duration for 多久 changed
no question of the set and were left out, as were plurals of the date nouns ("which days").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.core.analysis import is_cjk

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    "sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|half"
)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_EN_NUMBER = re.compile(rf"\d[\d,.]*|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
# Months are capitalised, which keeps "may" the verb out.
_EN_DATE = re.compile(rf"\b(?:1\d{{3}}|20\d{{2}})s?\b|\b(?:{_MONTHS})\b")
# A capitalised word after a word (not after the end of a sentence): the first word of a sentence
# is capitalised whatever it is.
_EN_NAME = re.compile(r"(?<=[^\s.!?] )[A-Z][\w'-]*")

# "When" and "who" ask only at a question's start or before its verb ("and when does it ship?");
# elsewhere they join clauses ("what laws hold when the flow is heated", "those who return it").
_AUXILIARY = r"(?:do|does|did|is|was|are|were|will|would|can|could|should|has|have|had)\b"
_DATE_NOUN = r"(?:year|century|decade|date|month|day)\b"
# A sum of money: a currency sign before digits, or digits before a currency's name ("£27,500",
# "$12", "€189", "20p", "48 million dollars").
_EN_MONEY = re.compile(
    r"[£$€¥]\s?\d|\b\d[\d,.]*\s?(?:(?:thousand|million|billion)\s)?"
    r"(?:p|pence|pounds?|dollars?|euros?|yuan)\b",
    re.IGNORECASE,
)
# A place: a capitalised name after a preposition of place ("at Wapping Wharf", "in Leeds",
# "between Ferrisby and Holt Junction"). Months are no places ("in March").
_EN_PLACE = re.compile(
    rf"\b(?:in|at|on|near|from|to|between|outside|inside)\s+(?:the\s+)?(?!(?:{_MONTHS})\b)[A-Z]\w+"
)
# Words that make a question about money: "what does it charge", "how much extra will I pay".
_MONEY_WORDS = (
    r"\b(?:charg\w*|costs?|costing|price[sd]?|pay|paid|paying|money|spend\w*|spent|invest\w*|fees?|"
    r"salar\w*|wages?|earn\w*|revenue|income|profit|deposit|fund\w*|raise[sd]?|refund\w*)\b"
)
_ABOUT_MONEY = re.compile(
    rf"\b(?:how much|what|which)\b.*{_MONEY_WORDS}|{_MONEY_WORDS}.*\bhow much\b"
)
# Checked in order: "how many years" asks for a number, "what percentage of revenue" too; "when"
# and "what date" for a date, even with a word of money ("when is the fee due?"); "how much" or
# "what" with a word of money for a sum; "where" for a place, "whose" for a name.
_EN_ASKS = (
    (re.compile(r"\bhow (?:many|long|far|old|large|big|high|tall|often|fast)\b"), _EN_NUMBER),
    (re.compile(r"\bwhat (?:percentage|percent|number)\b"), _EN_NUMBER),
    (re.compile(rf"^\W*when\b|\bwhen {_AUXILIARY}|\b(?:what|which) {_DATE_NOUN}"), _EN_DATE),
    (_ABOUT_MONEY, _EN_MONEY),
    (re.compile(r"\bhow much\b|\bwhat amount\b"), _EN_NUMBER),
    (re.compile(rf"^\W*where\b|\bwhere(?:'s| {_AUXILIARY})"), _EN_PLACE),
    (re.compile(rf"^\W*who(?:m|se)?\b|\bwho(?:m|se)? {_AUXILIARY}"), _EN_NAME),
)

_CJK_NUMBER = r"(?:\d+(?:[.,]\d+)*|[零〇一二三四五六七八九十百千万亿两半]+)"
_CJK_WHEN = re.compile(r"何时|何年|什么时[候间]|哪一?(?:年|天|日|个月|个世纪)|几月|年份|日期")
_CJK_DATE = re.compile(rf"{_CJK_NUMBER}\s*(?:年|月|日|世纪)|年代")
_CJK_HOW_MANY = re.compile(r"(?:多少|几(?!乎))(\w)?")
_CJK_MONEY = re.compile(rf"{_CJK_NUMBER}\s*[万亿]?(?:元|块|美元|欧元|英镑|港元|日元)|[¥￥$€£]\s*\d")
_DIGITS = re.compile(r"\d+")
# Characters after 多少 or 几 that say nothing of what is counted: function characters, and the
# general measure word 个, which the noun that says it follows ("几个阶段").
_GENERAL_MEASURES = frozenset("个的是了在有")


@dataclass(frozen=True, slots=True)
class Form:
    """The form of the text that answers a question; the question's own text answers nothing."""

    pattern: re.Pattern[str]
    question: str  # case-folded

    def shown_in(self, sentence: str) -> bool:
        """Whether ``sentence`` has text of this form that the question does not already have."""
        # Whole words of a Latin script ("may" is not in "mayor"); CJK text has no word bounds.
        return any(
            not re.search(
                rf"(?<![a-z0-9]){re.escape(m.group().casefold())}(?![a-z0-9])", self.question
            )
            for m in self.pattern.finditer(sentence)
        )


@lru_cache(maxsize=1024)
def answer_form(question: str) -> Form | None:
    """The form of the answer ``question`` asks for, or None when its words do not say."""
    folded = question.casefold()
    pattern = _cjk_pattern(question) or next(
        (form for asks, form in _EN_ASKS if asks.search(folded)), None
    )
    return Form(pattern, folded) if pattern else None


def _cjk_pattern(question: str) -> re.Pattern[str] | None:
    """The pattern of a Chinese question's answer: a date, a count, or None."""
    if _CJK_WHEN.search(question):
        return _CJK_DATE
    how_many = _CJK_HOW_MANY.search(question)
    if how_many is None:
        return None
    measure = how_many.group(1)
    if measure == "钱":  # 多少钱, "how much money": a price
        return _CJK_MONEY
    if measure and is_cjk(measure) and measure not in _GENERAL_MEASURES:
        return re.compile(rf"{_CJK_NUMBER}\s*{re.escape(measure)}")
    return _DIGITS
