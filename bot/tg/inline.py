"""Inline mode: "@bot question" in any chat lists the passages that answer it.

Inline queries arrive as the user types, so they are answered from the library alone, with no Bot
API call but ``answerInlineQuery``, off the event loop. The result-building functions are pure, to
be tested apart.

With the semantic stage, a question lists what a chat would answer, judged the same way
(:func:`bot.core.answer.answer`): first the article it would quote, with the sentences it would
quote, then the others that rank nearly as well; a question the chat would decline lists nothing.
Without it, the passages that cover the question's words, several of an article if they do.
"""

from __future__ import annotations

import asyncio
import hashlib

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.core.analysis import sentence_spans, tokenize
from bot.core.answer import (
    MIN_COVERAGE,
    Answer,
    Status,
    answer,
    cite_html,
    clip,
    coverage,
    escape,
    fit_message,
    question_weights,
    quote,
    render_html,
)
from bot.core.corpus import Article, is_heading
from bot.core.forms import Form, answer_form
from bot.core.library import Hit, Library
from bot.core.phrases import Language
from bot.tg.handlers import NO_PREVIEW, language_of, library_of, newest

PAGE = 10  # results per answer; scrolling to the end asks for the next page
MAX_RESULTS = 50  # results over all pages
CACHE_SECONDS = 10  # short, so that a reloaded corpus shows up at once
DESCRIPTION_CHARS = 200
LEAD_CHARS = 300


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer an inline query with the best matching passages."""
    query = update.inline_query
    if query is None:
        return
    results, next_offset = await asyncio.to_thread(
        inline_results, library_of(context), query.query, language_of(update), query.offset
    )
    # No next page is sent as no next_offset: PTB 22's ExtBot (with Defaults) turns "" into [],
    # which Telegram would take for an offset and ask again.
    await query.answer(
        results,
        cache_time=CACHE_SECONDS,
        # Results carry fixed texts in the asker's language: don't serve them to other users.
        is_personal=True,
        next_offset=next_offset or None,
    )


def inline_results(
    library: Library, query: str, lang: Language = "en", offset: str = ""
) -> tuple[list[InlineQueryResultArticle], str]:
    """Return the page of results at ``offset`` and the offset of the next page ("" if none).

    A question lists the passages that cover it, best first; an empty query lists the latest
    announcements.
    """
    # The offset is the next_offset of our previous answer; anything else starts over.
    start = int(offset) if offset.isdigit() else 0
    end = start + PAGE
    if query.strip() and library.embedder is not None:
        replies, total = meant_answers(library, query, start, end)
        results = [reply_result(reply, lang) for reply in replies]
    elif query.strip():
        query_terms = tokenize(query)
        weights = question_weights(library, query_terms)
        hits = covering_passages(library, query_terms, weights, answer_form(query))
        results = [passage_result(hit, weights, query, lang) for hit in hits[start:end]]
        total = len(hits)
    else:
        articles = newest(library)[:MAX_RESULTS]
        results = [article_result(article, lang) for article in articles[start:end]]
        total = len(articles)
    return results, str(end) if end < total else ""


def meant_answers(
    library: Library, question: str, start: int, end: int
) -> tuple[list[Answer], int]:
    """The answers from ``start`` up to ``end`` that ``question`` gets with the semantic stage,
    one per article, and how many there are.

    The first is the chat's answer (with its "Updated" line when a later announcement changed
    it); the others quote the articles that answer nearly as well, as "More" would.
    """
    first = answer(library, question)
    matches = first.matches if first.answered else ()
    hits = matches[start:end]
    if not hits:
        return [], len(matches)
    weights = question_weights(library, tokenize(question))
    form = answer_form(question)
    similarity = library.similarity(library.encode_query(question))
    replies = [
        first
        if start + i == 0
        else Answer(
            question,
            Status.ANSWERED,
            snippet=tuple(quote(hit, weights, form=form, similarity=similarity)),
            hit=hit,
        )
        for i, hit in enumerate(hits)
    ]
    return replies, len(matches)


def covering_passages(
    library: Library, query_terms: list[str], weights: dict[str, float], form: Form | None = None
) -> list[Hit]:
    """Return the best passages that cover the question, at most MAX_RESULTS, best first.

    Unlike a chat answer, several passages of one article may be listed: each is a different quote.
    """
    if not weights:
        return []
    hits = library.passage_hits(query_terms, MAX_RESULTS, form)
    return [hit for hit in hits if coverage(library, hit, weights) >= MIN_COVERAGE]


def passage_result(
    hit: Hit, weights: dict[str, float], question: str, lang: Language = "en"
) -> InlineQueryResultArticle:
    """List a passage by its article's title, date and snippet; choosing it sends the answer."""
    form = answer_form(question)
    runs = quote(hit, weights, form=form)
    reply = Answer(question, Status.ANSWERED, snippet=tuple(runs), hit=hit)
    snippet = "".join(run.text for run in quote(hit, weights, DESCRIPTION_CHARS, form))
    return _result(
        result_id("passage", hit.article.id, hit.passage.position),
        hit.article,
        snippet,
        render_html(reply, lang),
    )


def reply_result(reply: Answer, lang: Language = "en") -> InlineQueryResultArticle:
    """List an answer by its article's title, date and quote; choosing it sends the answer."""
    assert reply.hit is not None
    hit = reply.hit
    return _result(
        result_id("passage", hit.article.id, hit.passage.position),
        hit.article,
        "".join(run.text for run in reply.snippet),
        render_html(reply, lang),
    )


def article_result(article: Article, lang: Language = "en") -> InlineQueryResultArticle:
    """List an announcement by title, date and lead; choosing it sends them with the source."""
    opening = lead(article)
    message = "\n".join(
        [
            f"<b>{escape(_title(article))}</b>",
            "",
            escape(opening),
            "",
            cite_html(article, lang),
        ]
    )
    return _result(result_id("article", article.id), article, opening, fit_message(message))


def _result(id_: str, article: Article, snippet: str, message: str) -> InlineQueryResultArticle:
    """Build the result that lists ``article`` with ``snippet`` and sends ``message``."""
    date = f"{article.date.isoformat()} · " if article.date else ""
    return InlineQueryResultArticle(
        id=id_,
        title=_title(article),
        description=date + one_line(snippet, DESCRIPTION_CHARS),
        input_message_content=InputTextMessageContent(
            message, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        ),
    )


def _title(article: Article) -> str:
    return clip(article.title or article.id)  # as long as the source line's title


def result_id(*parts: object) -> str:
    """A short id that stays the same across reloads (Telegram allows at most 64 bytes)."""
    key = "\0".join(str(part) for part in parts)
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def lead(article: Article, max_chars: int = LEAD_CHARS) -> str:
    """Return the article's opening sentences after any heading, within about ``max_chars``."""
    body = article.text
    # The corpus never keeps an article without text, so there is at least one sentence.
    spans = sentence_spans(body)
    first = next((i for i, span in enumerate(spans) if not is_heading(body, *span)), 0)
    start, end = spans[first]
    for span in spans[first + 1 :]:
        if span[1] - start > max_chars or is_heading(body, *span):
            break
        end = span[1]
    return clip(body[start:end], max_chars)


def one_line(value: str, limit: int) -> str:
    """Put ``value`` on one line and clip it to ``limit`` characters."""
    return clip(" ".join(value.split()), limit)
