"""Shared pieces of the fake Telegram Bot API.

* :func:`fake_result`: a canned, plausible ``result`` for every Bot API method the bot may call.
* ``make_*_update``: builders for incoming updates as plain JSON dicts
  (turn them into objects with ``telegram.Update.de_json(d, bot)``).
* :class:`RecordingRequest`: a ``telegram.request.BaseRequest`` that records every call and
  answers from :func:`fake_result` without touching the network.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    # PTB has no public alias for "float, None or DEFAULT_NONE"; only needed for annotations.
    from telegram._utils.types import ODVInput

__all__ = [
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER",
    "BOT_USERNAME",
    "MESSAGE_CREATING_METHODS",
    "ApiCall",
    "FakeApiError",
    "JSONDict",
    "RecordingRequest",
    "build_response",
    "decode_request_data",
    "error_payload",
    "fake_result",
    "make_bot_message",
    "make_callback_query_update",
    "make_channel_post_update",
    "make_document_update",
    "make_inline_query_update",
    "make_message",
    "make_message_update",
    "make_user",
    "message_entities",
    "utf16_len",
]

JSONDict = dict[str, Any]

BOT_TOKEN = "123456:TEST-TOKEN"
BOT_ID = 123456
BOT_USERNAME = "AnnouncementsBot"
BOT_USER: JSONDict = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Announcements",
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
# In messages Telegram only sends the basic User fields; the can_* flags are getMe-only.
_BOT_SENDER: JSONDict = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Announcements",
    "username": BOT_USERNAME,
}

# Methods whose fake result is a new message and therefore consumes a message_id.
MESSAGE_CREATING_METHODS = frozenset({"sendMessage"})

_TRUE_METHODS = frozenset(
    {
        "answerCallbackQuery",
        "answerInlineQuery",
        "close",
        "deleteMessage",
        "deleteMyCommands",
        "deleteWebhook",
        "logOut",
        "sendChatAction",
        "setChatMenuButton",
        "setMyCommands",
        "setMyDescription",
        "setMyShortDescription",
        "setWebhook",
    }
)

# Telegram's limit for sendMessage / editMessageText, counted after entity parsing.
_MAX_TEXT_LENGTH = 4096


@dataclass
class ApiCall:
    """One Bot API request as the fake API saw it."""

    method: str
    params: dict[str, Any]
    status: int = 200  # the HTTP status answered; 0 for a connection dropped without an answer
    message_id: int = 0  # the id of the message a sendMessage created
    at: float = field(default_factory=time.monotonic)  # when the call arrived


class FakeApiError(Exception):
    """A Bot API error (``"ok": false``) that the fake API answers instead of a result."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description


def error_payload(error_code: int, description: str, retry_after: int | None = None) -> JSONDict:
    """The JSON body Telegram sends for a failed request (429s say when to retry)."""
    payload: JSONDict = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return payload


# --------------------------------------------------------------------------- canned results


def _now() -> int:
    return int(time.time())


def _chat_for(chat_id: object) -> JSONDict:
    """A Chat for a target ``chat_id``: >0 private, <0 supergroup, "@name" channel."""
    if isinstance(chat_id, str):
        if chat_id.startswith("@") and len(chat_id) > 1:
            name = chat_id[1:]
            # Stable fake id so repeated calls to the same @channel agree.
            fake_id = -1_000_000_000_000 - zlib.crc32(name.encode()) % 1_000_000_000
            return {"id": fake_id, "type": "channel", "title": name, "username": name}
        try:
            chat_id = int(chat_id)
        except ValueError:
            raise FakeApiError(400, "Bad Request: chat not found") from None
    if isinstance(chat_id, bool) or not isinstance(chat_id, int) or chat_id == 0:
        raise FakeApiError(400, "Bad Request: chat not found")
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "User"}
    return {"id": chat_id, "type": "supergroup", "title": "Group"}


def _require(params: JSONDict, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise FakeApiError(400, f"Bad Request: {name} is empty")
    return value


def _as_json(value: Any) -> Any:
    """Decode a value that may still be a JSON string (e.g. reply_markup sent by hand)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _checked_text(params: JSONDict) -> str:
    text = params.get("text")
    if text is None or text == "":
        raise FakeApiError(400, "Bad Request: message text is empty")
    text = str(text)
    # Only without parse_mode: with markup we cannot know the length after parsing.
    if params.get("parse_mode") is None and len(text) > _MAX_TEXT_LENGTH:
        raise FakeApiError(400, "Bad Request: message is too long")
    return text


def _bot_message(params: JSONDict, message_id: int) -> JSONDict:
    """The Message Telegram returns for a message the bot sent or edited."""
    chat = _chat_for(_require(params, "chat_id"))
    message: JSONDict = {"message_id": message_id, "date": _now(), "chat": chat}
    if chat["type"] == "channel":
        message["sender_chat"] = chat
    else:
        message["from"] = dict(_BOT_SENDER)
    if params.get("entities") is not None:
        message["entities"] = _as_json(params["entities"])
    if params.get("link_preview_options") is not None:
        message["link_preview_options"] = _as_json(params["link_preview_options"])
    markup = _as_json(params.get("reply_markup"))
    # Message.reply_markup can only be an inline keyboard; reply keyboards are not echoed.
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    reply = _as_json(params.get("reply_parameters"))
    reply_to_id = reply.get("message_id") if isinstance(reply, dict) else None
    reply_to_id = reply_to_id or params.get("reply_to_message_id")
    if reply_to_id is not None:
        message["reply_to_message"] = {
            "message_id": int(reply_to_id),
            "date": _now(),
            "chat": chat,
        }
    return message


def _full_chat(chat_id: object) -> JSONDict:
    chat = _chat_for(chat_id)
    # ChatFullInfo fields that PTB 22 requires.
    chat.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    )
    return chat


def _chat_member(params: JSONDict) -> JSONDict:
    _chat_for(_require(params, "chat_id"))
    user_id = int(_require(params, "user_id"))
    user = (
        dict(_BOT_SENDER)
        if user_id == BOT_ID
        else {"id": user_id, "is_bot": False, "first_name": "User"}
    )
    return {"status": "member", "user": user}


def fake_result(method: str, params: JSONDict, *, message_id: int) -> Any:
    """A plausible Bot API ``result`` for ``method`` called with ``params``.

    ``message_id`` is used for methods that create a message (see MESSAGE_CREATING_METHODS).
    Raises FakeApiError for requests Telegram would reject (missing chat_id, empty text, ...)
    and AssertionError for methods this fake does not know, so tests see what the bot tried.
    """
    if method in _TRUE_METHODS:
        return True
    if method == "getMe":
        return dict(BOT_USER)
    if method in ("getMyCommands", "getUpdates"):
        return []
    if method == "getWebhookInfo":
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
    if method == "sendMessage":
        message = _bot_message(params, message_id)
        message["text"] = _checked_text(params)
        return message
    if method in ("editMessageText", "editMessageReplyMarkup"):
        text = _checked_text(params) if method == "editMessageText" else None
        if params.get("inline_message_id"):
            return True  # Telegram answers True, not a Message, for inline messages.
        message = _bot_message(params, int(_require(params, "message_id")))
        message["edit_date"] = message["date"]
        if text is not None:
            message["text"] = text
        return message
    if method == "getFile":
        file_id = str(_require(params, "file_id"))
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_path": f"docs/{file_id}",
        }
    if method == "getChat":
        return _full_chat(_require(params, "chat_id"))
    if method == "getChatMember":
        return _chat_member(params)
    raise AssertionError(
        f"fake Bot API has no canned result for method {method!r} (params={params!r})"
    )


def build_response(method: str, params: JSONDict, *, message_id: int) -> tuple[int, JSONDict]:
    """HTTP status and JSON body for a call; AssertionError for unknown methods."""
    try:
        result = fake_result(method, params, message_id=message_id)
    except FakeApiError as exc:
        return exc.error_code, error_payload(exc.error_code, exc.description)
    return 200, {"ok": True, "result": result}


# --------------------------------------------------------------------------- update builders

_update_ids: Iterator[int] = itertools.count(10_000)
_message_ids: Iterator[int] = itertools.count(1)
_query_ids: Iterator[int] = itertools.count(1)

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,64})?(?![A-Za-z0-9_@])")
_MENTION_RE = re.compile(rf"(?<![A-Za-z0-9_])@{BOT_USERNAME}(?![A-Za-z0-9_])", re.IGNORECASE)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def message_entities(text: str) -> list[JSONDict]:
    """The entities Telegram would add: a leading bot_command and @AnnouncementsBot mentions."""
    entities: list[JSONDict] = []
    search_from = 0
    command = _COMMAND_RE.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
        # "/ask@AnnouncementsBot" is one bot_command entity, not a command plus a mention.
        search_from = command.end()
    for mention in _MENTION_RE.finditer(text, search_from):
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: mention.start()]),
                "length": utf16_len(mention[0]),
            }
        )
    return entities


def make_user(
    user_id: int = 42, username: str | None = "alice", language_code: str | None = "en"
) -> JSONDict:
    """A (human) User dict."""
    user: JSONDict = {
        "id": user_id,
        "is_bot": False,
        "first_name": username.capitalize() if username else "User",
    }
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def _chat(chat_id: int, chat_type: str, user: JSONDict) -> JSONDict:
    if chat_type == "private":
        chat: JSONDict = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat
    return {"id": chat_id, "type": chat_type, "title": "Test Group"}


def make_message(
    text: str,
    *,
    chat_id: int = 1,
    chat_type: str = "private",
    user_id: int = 42,
    username: str | None = "alice",
    language_code: str | None = "en",
    message_id: int | None = None,
    reply_to: JSONDict | None = None,
    entities: list[JSONDict] | None = None,
) -> JSONDict:
    """A Message dict written by a user; ``entities=None`` means "as Telegram would add"."""
    user = make_user(user_id, username, language_code)
    message: JSONDict = {
        "message_id": next(_message_ids) if message_id is None else message_id,
        "date": _now(),
        "chat": _chat(chat_id, chat_type, user),
        "from": user,
        "text": text,
    }
    found = message_entities(text) if entities is None else entities
    if found:
        message["entities"] = found
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return message


def make_message_update(
    text: str,
    *,
    chat_id: int = 1,
    chat_type: str = "private",
    user_id: int = 42,
    username: str | None = "alice",
    language_code: str | None = "en",
    message_id: int | None = None,
    reply_to: JSONDict | None = None,
    entities: list[JSONDict] | None = None,
    update_id: int | None = None,
) -> JSONDict:
    """An Update dict carrying a user's text message (see :func:`make_message`)."""
    message = make_message(
        text,
        chat_id=chat_id,
        chat_type=chat_type,
        user_id=user_id,
        username=username,
        language_code=language_code,
        message_id=message_id,
        reply_to=reply_to,
        entities=entities,
    )
    return {"update_id": _next_update_id(update_id), "message": message}


def make_bot_message(
    text: str,
    *,
    chat_id: int = 1,
    message_id: int | None = None,
    reply_markup: JSONDict | None = None,
) -> JSONDict:
    """A Message dict the bot sent earlier (e.g. the one a callback query comes from)."""
    params: JSONDict = {"chat_id": chat_id, "text": text}
    if reply_markup is not None:
        params["reply_markup"] = reply_markup
    mid = next(_message_ids) if message_id is None else message_id
    result: JSONDict = fake_result("sendMessage", params, message_id=mid)
    return result


def make_channel_post_update(
    text: str | None = None,
    *,
    chat_id: int = -1001234567890,
    username: str | None = "examplechannel",
    title: str = "Example Channel",
    edited: bool = False,
    caption: str | None = None,
    entities: list[JSONDict] | None = None,
    message_id: int | None = None,
    update_id: int | None = None,
) -> JSONDict:
    """An Update with a channel_post (or edited_channel_post); give exactly one of text/caption.

    A caption comes with a one-size photo, since Telegram only sends captions on media.
    """
    if (text is None) == (caption is None):
        raise ValueError("give exactly one of text or caption")
    chat: JSONDict = {"id": chat_id, "type": "channel", "title": title}
    if username is not None:
        chat["username"] = username
    post: JSONDict = {
        "message_id": next(_message_ids) if message_id is None else message_id,
        "date": _now(),
        "chat": chat,
        "sender_chat": chat,
    }
    if text is not None:
        post["text"] = text
        if entities:
            post["entities"] = entities
    else:
        post["caption"] = caption
        post["photo"] = [
            {"file_id": "photo-file-id", "file_unique_id": "photo-uid", "width": 90, "height": 90}
        ]
        if entities:
            post["caption_entities"] = entities
    if edited:
        post["edit_date"] = post["date"]
    key = "edited_channel_post" if edited else "channel_post"
    return {"update_id": _next_update_id(update_id), key: post}


def make_document_update(
    file_name: str,
    *,
    file_id: str = "doc-1",
    file_size: int | None = 100,
    mime_type: str = "text/plain",
    caption: str | None = "/add",
    user_id: int = 42,
    update_id: int | None = None,
) -> JSONDict:
    """An Update with a document sent in a private chat (its bytes: ``RecordingRequest.files``)."""
    message = make_message("", user_id=user_id, chat_id=user_id)
    del message["text"]
    document: JSONDict = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_name": file_name,
        "mime_type": mime_type,
    }
    if file_size is not None:
        document["file_size"] = file_size
    message["document"] = document
    if caption is not None:
        message["caption"] = caption
        if found := message_entities(caption):
            message["caption_entities"] = found
    return {"update_id": _next_update_id(update_id), "message": message}


def make_inline_query_update(
    query: str,
    *,
    user_id: int = 42,
    username: str | None = "alice",
    language_code: str | None = "en",
    offset: str = "",
    chat_type: str | None = "private",
    inline_query_id: str | None = None,
    update_id: int | None = None,
) -> JSONDict:
    """An Update with an inline_query."""
    inline_query: JSONDict = {
        "id": inline_query_id or f"iq-{next(_query_ids)}",
        "from": make_user(user_id, username, language_code),
        "query": query,
        "offset": offset,
    }
    if chat_type is not None:
        inline_query["chat_type"] = chat_type
    return {"update_id": _next_update_id(update_id), "inline_query": inline_query}


def make_callback_query_update(
    data: str,
    *,
    message: JSONDict | None = None,
    user_id: int = 42,
    username: str | None = "alice",
    language_code: str | None = "en",
    callback_query_id: str | None = None,
    chat_instance: str = "chat-instance-1",
    update_id: int | None = None,
) -> JSONDict:
    """An Update with a callback_query pressed on ``message`` (default: a fresh bot message)."""
    if message is None:
        message = make_bot_message("Pick one", chat_id=user_id)
    callback_query: JSONDict = {
        "id": callback_query_id or f"cq-{next(_query_ids)}",
        "from": make_user(user_id, username, language_code),
        "chat_instance": chat_instance,
        "message": message,
        "data": data,
    }
    return {"update_id": _next_update_id(update_id), "callback_query": callback_query}


def _next_update_id(update_id: int | None) -> int:
    return next(_update_ids) if update_id is None else update_id


# --------------------------------------------------------------------------- in-process request


def decode_request_data(request_data: RequestData | None) -> JSONDict:
    """The parameters of a PTB request as plain JSON values (nested objects as dicts).

    PTB's ``json_parameters`` holds every non-string value JSON-encoded and strings raw, so a
    value is decoded only if the original was not a string ("123" stays a str). Files to
    upload appear as ``{"filename": ..., "mime_type": ...}``.
    """
    if request_data is None:
        return {}
    raw = request_data.parameters
    params: JSONDict = {}
    for name, encoded in request_data.json_parameters.items():
        value = raw.get(name)
        params[name] = value if isinstance(value, str) else json.loads(encoded)
    for name, part in request_data.multipart_data.items():
        params.setdefault(name, {"filename": part[0], "mime_type": part[2]})
    return params


class RecordingRequest(BaseRequest):
    """A BaseRequest that records every call and answers from :func:`fake_result` in-process.

    No socket is ever opened. Set ``errors["sendMessage"] = (403, "Forbidden: bot was blocked
    by the user")`` to make a method fail, or ``raises["sendMessage"] = [exc, ...]`` to make
    its next calls raise (as a network failure would), one exception each; put a file's bytes in
    ``files[file_id]`` for downloads. Unknown methods raise AssertionError, which PTB re-raises as
    ``NetworkError("Unknown error in HTTP implementation: AssertionError(...)")``.
    """

    def __init__(self, *, first_message_id: int = 1000, read_timeout: float | None = 5.0) -> None:
        self.calls: list[ApiCall] = []
        self.errors: dict[str, tuple[int, str]] = {}
        self.files: dict[str, bytes] = {}
        self.raises: dict[str, list[Exception]] = {}
        self._message_ids = itertools.count(first_message_id)
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout; PTB adds the long-poll timeout to it for getUpdates."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up: there is no connection pool."""

    async def shutdown(self) -> None:
        """Nothing to tear down; recorded calls are kept for assertions."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Record the call and answer it like the Bot API would."""
        # Always POST for API methods, GET for files; nothing in-process can time out.
        del read_timeout, write_timeout, connect_timeout, pool_timeout
        if method == "GET":  # a file download: getFile's file_path is "docs/<file_id>"
            content = self.files.get(url.rsplit("/", 1)[-1])
            return (404, b"Not Found") if content is None else (200, content)
        api_method = url.rsplit("/", 1)[-1]
        params = decode_request_data(request_data)
        self.calls.append(ApiCall(api_method, params))
        if self.raises.get(api_method):
            raise self.raises[api_method].pop(0)
        if api_method in self.errors:
            code, description = self.errors[api_method]
            status, payload = code, error_payload(code, description)
        else:
            message_id = next(self._message_ids) if api_method in MESSAGE_CREATING_METHODS else 0
            status, payload = build_response(api_method, params, message_id=message_id)
        return status, json.dumps(payload).encode()

    @property
    def methods(self) -> list[str]:
        """Names of the called methods, in order."""
        return [call.method for call in self.calls]

    def sent(self, method: str = "sendMessage") -> list[JSONDict]:
        """Params of every recorded call to ``method``, in order."""
        return [call.params for call in self.calls if call.method == method]

    def clear(self) -> None:
        """Forget recorded calls (e.g. the getMe of start-up)."""
        self.calls.clear()
