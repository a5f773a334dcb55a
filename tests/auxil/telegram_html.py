"""What Telegram accepts as an HTML message, checked the strict way the Bot API parses it."""

from __future__ import annotations

import html
import re

MAX_UTF16 = 4096  # Telegram's limit on a message's text, after entity parsing

# The tags the bot writes (Telegram knows a few more); an <a> has exactly one double-quoted href.
_TAG = re.compile(r'<(/?)(b|i|u|s|code|pre|a)((?: href="[^"<>]*")?)>')
# Telegram knows only these named entities, and numeric ones.
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def telegram_text(message: str) -> str:
    """The text a user sees of ``message``; AssertionError if Telegram would reject the HTML.

    Every "<" opens or closes a known tag, tags nest properly, every "&" starts an entity
    Telegram knows, and the text is within Telegram's length limit.
    """
    open_tags: list[str] = []
    seen: list[str] = []
    pos = 0
    for special in re.finditer(r"[<&]", message):
        start = special.start()
        if start < pos:
            continue
        seen.append(message[pos:start])
        if special.group() == "<":
            tag = _TAG.match(message, start)
            assert tag, f"not a tag Telegram knows at {start}: {message[start : start + 20]!r}"
            closing, name, href = tag.groups()
            if closing:
                assert open_tags, f"</{name}> closes nothing"
                assert open_tags.pop() == name, f"</{name}> closes another tag"
            else:
                assert not href or name == "a", f"<{name}> with an href"
                open_tags.append(name)
            pos = tag.end()
        else:
            entity = _ENTITY.match(message, start)
            assert entity, f"a bare & at {start}: {message[start : start + 10]!r}"
            seen.append(html.unescape(entity.group()))
            pos = entity.end()
    seen.append(message[pos:])
    assert not open_tags, f"unclosed {open_tags}"
    text = "".join(seen)
    assert utf16_len(text) <= MAX_UTF16, f"{utf16_len(text)} UTF-16 units"
    return text
