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
    "admin_only": {
        "en": "Sorry, only the bot's administrators can use that command.",
        "zh": "抱歉，只有机器人的管理员可以使用该命令。",
    },
    # Admin commands (bot/tg/admin.py). Values are escaped by the caller: these are HTML.
    "add_refused": {"en": "Nothing was added: {reason}", "zh": "未添加任何内容：{reason}"},
    "add_usage": {
        "en": (
            "Put the announcement after /add (its first line is the title), reply /add to a"
            " message, or send a .txt, .md or .html document with /add as its caption."
        ),
        "zh": "请在 /add 后写上公告（第一行为标题），或用 /add 回复一条消息，"
        "或发送以 /add 为说明的 .txt、.md 或 .html 文件。",
    },
    "add_too_large": {
        "en": "it is too large (more than {limit} bytes).",
        "zh": "内容过大（超过 {limit} 字节）。",
    },
    "add_file_type": {
        "en": "only .txt, .md or .html documents can be added.",
        "zh": "只能添加 .txt、.md 或 .html 文件。",
    },
    "add_binary": {
        "en": "the document is not text (it holds binary data).",
        "zh": "该文件不是文本（含有二进制数据）。",
    },
    "add_encoding": {
        "en": "the document is not UTF-8 text (byte {byte}).",
        "zh": "该文件不是 UTF-8 文本（第 {byte} 字节）。",
    },
    "add_unreadable": {"en": "{reason}.", "zh": "{reason}。"},
    "added": {
        "en": "Added <b>{title}</b>, searchable now. /delete {id} removes it.",
        "zh": "已添加《<b>{title}</b>》，现在即可检索。发送 /delete {id} 可删除。",
    },
    "delete_unknown": {
        "en": "No announcement has the id {id}. Send /delete followed by an id;"
        " /sources lists the announcements.",
        "zh": "没有编号为 {id} 的公告。请发送 /delete 加编号；/sources 列出所有公告。",
    },
    "deleted": {"en": "Deleted <b>{title}</b> ({id}).", "zh": "已删除《<b>{title}</b>》（{id}）。"},
    "deleted_corpus": {
        "en": " It comes from the corpus folder: delete its file too, or it returns.",
        "zh": "该公告来自公告文件夹：请同时删除其文件，否则它会再次出现。",
    },
    "reloaded": {
        "en": "Reloaded the corpus folder: {added} added, {changed} changed, {removed} removed.",
        "zh": "已重新读取公告文件夹：新增 {added}，修改 {changed}，删除 {removed}。",
    },
    "reload_problems": {
        "en": " {count} files could not be read (see the log).",
        "zh": "{count} 个文件无法读取（见日志）。",
    },
    "stats": {
        "en": "<b>Statistics</b>\nArticles: {articles}\nPassages: {passages}\n"
        "Index: {terms} terms\nQuestions today: {questions}",
        "zh": "<b>统计</b>\n公告：{articles}\n段落：{passages}\n索引：{terms} 个词项\n"
        "今日提问：{questions}",
    },
    "stats_shares": {
        "en": " (answered {answered}%, declined {declined}%)\nMedian answer time: {ms} ms",
        "zh": "（已回答 {answered}%，未能回答 {declined}%）\n回答时间中位数：{ms} 毫秒",
    },
    "stats_feedback": {"en": "Feedback: 👍 {up} / 👎 {down}", "zh": "反馈：👍 {up} / 👎 {down}"},
    "unanswered": {"en": "<b>Recently declined questions</b>", "zh": "<b>最近未能回答的问题</b>"},
    "unanswered_none": {"en": "No declined questions yet.", "zh": "目前还没有未能回答的问题。"},
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

# Shown, after COMMANDS, in the menu of the users listed in ADMIN_IDS only.
ADMIN_COMMANDS: dict[Language, list[tuple[str, str]]] = {
    "en": [
        ("add", "Add an announcement (text, reply or document)"),
        ("delete", "Delete an announcement by id"),
        ("reload", "Read the corpus folder again"),
        ("stats", "Articles, questions, answer time, feedback"),
        ("unanswered", "Recent questions the bot declined"),
    ],
    "zh": [
        ("add", "添加公告（文字、回复或文件）"),
        ("delete", "按编号删除公告"),
        ("reload", "重新读取公告文件夹"),
        ("stats", "统计：公告、提问、回答时间、反馈"),
        ("unanswered", "最近未能回答的问题"),
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
