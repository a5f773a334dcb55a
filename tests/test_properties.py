"""Properties that hold for any input (hypothesis): the tokenizer, the passage splitter and the
HTML replies never raise, never lose text, and every reply is HTML Telegram accepts, within its
4096 UTF-16 units."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import InputTextMessageContent

from bot.core.analysis import terms, tokenize
from bot.core.answer import answer, escape, fit_message, render_html
from bot.core.corpus import Article, split_passages
from bot.core.library import Library
from bot.core.phrases import Language
from bot.tg.inline import article_result, inline_results
from tests.auxil.telegram_html import MAX_UTF16, telegram_text, utf16_len

# Words that exercise what goes wrong: HTML's special characters, numbers with separators,
# Chinese (bigrams), emoji (two UTF-16 units), abbreviations and sentence ends.
WORDS = st.sampled_from(
    [
        "ferry", "price", "costs", "the", "how", "many", "when", "U.S.", "Dr.", "12,400", "1.6",
        "<b>", "</a>", "&amp;", "&", "<", ">", '"', "'", "公园", "开放", "多少钱", "几点", "🌳",
        "👍🏽", "\u200d", ".", "!", "?", "。", "\n", "\n\n", "  ", "#", "**bold**", "x" * 120,
    ]
)  # fmt: skip
PROSE = st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=12)), max_size=80).map(" ".join)
ANY_TEXT = st.one_of(st.text(), PROSE)
ARTICLES = st.lists(
    st.tuples(
        PROSE.filter(str.strip), PROSE, st.one_of(st.none(), st.just("https://e.org/?a=1&b=<2>"))
    ),
    min_size=1,
    max_size=3,
)

LANGUAGES: st.SearchStrategy[Language] = st.sampled_from(("en", "zh"))
SLOW = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@given(ANY_TEXT)
def test_the_tokenizer_takes_any_text(text: str) -> None:
    tokens = tokenize(text)
    assert all(token and not any(c.isspace() for c in token) for token in tokens)
    for term in terms(text):
        assert 0 <= term.start < term.end <= len(text)


@given(ANY_TEXT.filter(str.strip), st.integers(min_value=100, max_value=1000))
def test_passages_cover_every_character_in_order(text: str, target: int) -> None:
    article = Article(id="a", title="T", text=text)
    passages = split_passages(article, target)
    assert passages
    assert [p.position for p in passages] == list(range(len(passages)))
    covered = 0
    for passage in passages:
        assert covered <= passage.start < passage.end <= len(text)
        assert passage.text.strip()
        # No text lost: between passages there is only white space.
        assert not text[covered : passage.start].strip()
        covered = passage.end
    assert not text[covered:].strip()


@given(st.lists(st.one_of(WORDS, st.text()), max_size=400))
def test_fit_message_keeps_any_escaped_reply_within_the_limit(lines: list[str]) -> None:
    message = fit_message("\n".join(f"<b>{escape(line)}</b>" for line in lines))
    assert utf16_len(message) <= MAX_UTF16
    telegram_text(message)


@SLOW
@given(ARTICLES, PROSE, LANGUAGES)
def test_every_reply_is_valid_telegram_html(
    articles: list[tuple[str, str, str | None]], question: str, lang: Language
) -> None:
    library = Library(
        [
            Article(id=f"a{i}", title=title, text=text.strip() or title.strip(), url=url)
            for i, (text, title, url) in enumerate(articles)
        ]
    )
    result = answer(library, question)
    telegram_text(render_html(result, lang))
    for page in range(1, len(result.matches)):
        telegram_text(render_html(answer(library, question, page=page), lang))
    results, _ = inline_results(library, question, lang)
    results += [article_result(a, lang) for a in library.articles]
    for item in results:
        content = item.input_message_content
        assert isinstance(content, InputTextMessageContent)
        telegram_text(content.message_text)


def test_the_html_check_rejects_what_telegram_rejects() -> None:
    assert telegram_text('<b>a</b> &amp; <a href="https://e.org/?a=1&amp;b=2">b</a>') == "a & b"
    for bad in ("a & b", "<b>a", "a</b>", "<b><i>a</b></i>", "<x>a</x>", '<b href="x">a</b>'):
        with pytest.raises(AssertionError):
            telegram_text(bad)
    with pytest.raises(AssertionError, match="UTF-16"):
        telegram_text("🌳" * 2049)
