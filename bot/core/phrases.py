"""The bot's fixed texts in each language it speaks, chosen from a Telegram ``language_code``."""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "zh"]

_TEXTS: dict[str, dict[Language, str]] = {
    "not_covered": {
        "en": "The announcements don't cover that. Send /sources to see what they do cover.",
        "zh": "现有公告中没有涉及这个问题。发送 /sources 查看公告列表。",
    },
    "no_terms": {
        "en": "Ask me a question about the announcements, with a few key words.",
        "zh": "请用几个关键词提出关于公告的问题。",
    },
    "empty_library": {
        "en": "No announcements are loaded yet.",
        "zh": "目前还没有载入任何公告。",
    },
    "source": {"en": "Source", "zh": "来源"},
    "replaced": {
        "en": "Updated {new}; the announcement of {old} said: “{said}”",
        "zh": "已于 {new} 更新；{old} 的公告曾说：“{said}”",
    },
    "also": {"en": "Also", "zh": "另见"},
    "welcome": {
        "en": "I answer questions about {count} announcements, citing the source of every answer.",
        "zh": "我可以回答关于 {count} 篇公告的问题，并注明每个答案的来源。",
    },
    "examples": {"en": "For example:", "zh": "例如："},
    "help": {
        "en": (
            "Send me a question and I reply with the sentences of the announcements that answer it,"
            " with the article's title, date and link.\n\n"
            "/ask <i>question</i> – ask a question\n"
            "/sources – the announcements I know\n"
            "/latest – the newest announcements\n"
            "/help – this message\n\n"
            "In a group, address me: /ask, a mention of my name, or a reply to my answer"
            " (a follow-up question keeps the topic)."
        ),
        "zh": (
            "向我提问，我会回复公告中回答该问题的句子，并附上文章标题、日期和链接。\n\n"
            "/ask <i>问题</i> – 提问\n"
            "/sources – 我知道的公告\n"
            "/latest – 最新公告\n"
            "/help – 显示本帮助\n\n"
            "在群组中，请通过 /ask、提及我的用户名或回复我的回答来提问"
            "（追问会沿用上一个问题的话题）。"
        ),
    },
    "console_help": {
        "en": (
            "Type a question and I reply with the sentences of the announcements that answer it,"
            " with the article's title, date and link.\n\n"
            "/sources [page] – the announcements I know, newest first\n"
            "/help – this message\n"
            "Ctrl-D – quit"
        ),
        "zh": (
            "输入问题，我会回复公告中回答该问题的句子，并附上文章标题、日期和链接。\n\n"
            "/sources [页码] – 我知道的公告，最新的在前\n"
            "/help – 显示本帮助\n"
            "Ctrl-D – 退出"
        ),
    },
    "ask_usage": {
        "en": "Put your question after the command, e.g. /ask {example}",
        "zh": "请在命令后写上问题，例如 /ask {example}",
    },
    "sources": {"en": "Announcements I know ({count}):", "zh": "我知道的公告（{count} 篇）："},
    "more": {"en": "More ›", "zh": "更多 ›"},
    "previous": {"en": "‹ Back", "zh": "‹ 上一条"},
    "next_page": {"en": "Next ›", "zh": "下一页 ›"},
    "previous_page": {"en": "‹ Previous", "zh": "‹ 上一页"},
    "match": {"en": "Match {page} of {pages}", "zh": "第 {page} 条，共 {pages} 条"},
    "thanks": {"en": "Thanks for the feedback!", "zh": "感谢您的反馈！"},
    "expired": {
        "en": "That answer is no longer available. Please ask again.",
        "zh": "该回答已失效，请重新提问。",
    },
    "latest": {"en": "Latest announcements:", "zh": "最新公告："},
    "page": {"en": "page {page} of {pages}", "zh": "第 {page}/{pages} 页"},
    "error": {
        "en": "Sorry, something went wrong while answering. Please try again.",
        "zh": "抱歉，回答时出错了，请稍后再试。",
    },
}

COMMANDS: dict[Language, list[tuple[str, str]]] = {
    "en": [
        ("ask", "Ask a question about the announcements"),
        ("sources", "List the announcements"),
        ("latest", "The newest announcements"),
        ("help", "How to use this bot"),
        ("start", "What this bot knows"),
    ],
    "zh": [
        ("ask", "提问"),
        ("sources", "公告列表"),
        ("latest", "最新公告"),
        ("help", "使用说明"),
        ("start", "机器人简介"),
    ],
}


def pick_language(language_code: str | None) -> Language:
    """Chinese for any ``zh`` locale, English otherwise."""
    if language_code and language_code.casefold().split("-")[0] == "zh":
        return "zh"
    return "en"


def text(key: str, lang: Language = "en", **values: object) -> str:
    """Return the fixed text ``key`` in ``lang``, with ``values`` filled in."""
    template = _TEXTS[key][lang]
    return template.format(**values) if values else template
