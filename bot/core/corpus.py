"""Articles and passages: loading a corpus, and splitting articles into passages.

A corpus is a folder, read recursively, of

- ``.md`` and ``.txt`` files with optional YAML front matter (``title``, ``date``, ``url``,
  ``lang``, ``tags``); without a ``title`` the first heading or line is the title;
- ``.html`` / ``.htm`` pages, whose title and main text are extracted and markup dropped;
- ``.jsonl`` files of ``{"id", "title", "text"[, "date", "url"]}`` records (the BEIR corpus format).

A single ``.jsonl`` or text file is a corpus too. Article ids are stable across runs: the path
relative to the corpus folder, or the record's own id. A file that cannot be read is reported as a
:class:`Problem` and skipped; every other file still loads. Links to folders are followed; a
folder that can't be read, a link that leads nowhere and a link loop are reported the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from bot.core.analysis import sentence_spans

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSONL_SUFFIXES = frozenset({".jsonl"})
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES

DEFAULT_PASSAGE_CHARS = 600
JSONL_BLOCK = 1 << 20  # characters of a JSONL file split into lines at a time (see parse_jsonl)


@dataclass(frozen=True, slots=True)
class Article:
    """One announcement: its stable id, title, body text and where it came from."""

    id: str
    title: str
    text: str
    date: dt.date | None = None
    url: str | None = None
    lang: str | None = None
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Passage:
    """A run of whole sentences of one article: what the index ranks and the answer quotes."""

    article: Article
    position: int  # 0-based order of the passage within its article
    start: int  # character span in ``article.text``
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Problem:
    """A file, or a line of one, that could not be loaded, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Corpus:
    """The articles that loaded and the problems met on the way."""

    articles: tuple[Article, ...]
    problems: tuple[Problem, ...] = ()


class CorpusError(ValueError):
    """Raised for a file that cannot become an article; the message is the reason."""


def load_corpus(path: Path) -> Corpus:
    """Load every article under ``path`` (a folder, a ``.jsonl`` file or one text/HTML file)."""
    if not path.exists():
        return Corpus((), (Problem(str(path), "no such file or folder"),))
    root, files, walked = corpus_files(path)
    loaded = load_files(root, files)
    return Corpus(loaded.articles, walked + loaded.problems)


def corpus_files(path: Path) -> tuple[Path, list[Path], tuple[Problem, ...]]:
    """The folder ids are relative to, the corpus files at ``path`` (sorted), the problems met.

    The problems are what :func:`_walk` could not follow: unreadable folders, broken links, loops.
    """
    if not path.is_dir():
        return path.parent, [path] if path.is_file() else [], ()
    problems: list[Problem] = []
    files = sorted(_walk(path, problems))
    return path, files, tuple(problems)


def load_files(root: Path, files: Iterable[Path]) -> Corpus:
    """Load the articles of ``files``, their ids relative to ``root``."""
    problems: list[Problem] = []
    articles: list[Article] = []
    seen: set[str] = set()
    for file in files:
        loaded, found = _load_file(file, file.relative_to(root).as_posix())
        problems.extend(found)
        for article in loaded:
            if article.id in seen:
                problems.append(Problem(str(file), f"duplicate article id {article.id!r}"))
                continue
            seen.add(article.id)
            articles.append(article)
    return Corpus(tuple(articles), tuple(problems))


def _walk(folder: Path, problems: list[Problem], walked: set[Path] | None = None) -> list[Path]:
    """The corpus files under ``folder`` (hidden ones skipped), following links to folders.

    What can't be followed is added to ``problems``: an unreadable folder, a link whose target is
    gone, and a link loop (a link to a folder already read, or a link to itself).
    """
    walked = set() if walked is None else walked
    real = folder.resolve()
    if real in walked:
        problems.append(
            Problem(str(folder), f"symbolic link loop: the folder {real} is read already")
        )
        return []
    walked.add(real)
    try:
        with os.scandir(folder) as scan:
            entries = [entry for entry in scan if not entry.name.startswith(".")]
    except OSError as exc:
        problems.append(Problem(str(folder), f"cannot read the folder: {exc.strerror or exc}"))
        return []
    files: list[Path] = []
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()
        except OSError:  # a link to itself: ELOOP
            is_dir = is_file = False
        if is_dir:
            files += _walk(path, problems, walked)
        elif is_file:
            if path.suffix.lower() in SUFFIXES:
                files.append(path)
        elif entry.is_symlink():
            problems.append(Problem(str(path), _broken_link(path)))
    return files


def _broken_link(path: Path) -> str:
    """Why a symbolic link leads nowhere."""
    try:
        path.resolve(strict=True)
    except FileNotFoundError:
        return f"broken link: {path.parent / os.readlink(path)} does not exist"
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13's word for ELOOP
        return "symbolic link loop"
    return "not a file or folder"


def _load_file(path: Path, article_id: str) -> tuple[list[Article], list[Problem]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [Problem(str(path), f"cannot read: {exc.strerror or exc}")]
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(str(path), f"not UTF-8 text (byte {exc.start})")]
    if "\0" in content:  # valid UTF-8, but no text has NULs: every other byte of UTF-16
        return [], [
            Problem(str(path), "not UTF-8 text (NUL bytes: UTF-16 without a byte order mark?)")
        ]
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return parse_jsonl(content, str(path))
    try:
        if suffix in HTML_SUFFIXES:
            return [parse_html(content, article_id)], []
        return [parse_text(content, article_id, markdown=suffix != ".txt")], []
    except CorpusError as exc:
        return [], [Problem(str(path), str(exc))]


# --- Markdown and plain text -------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")


def parse_text(content: str, article_id: str, *, markdown: bool = True) -> Article:
    """Build an article from Markdown or plain text with optional YAML front matter.

    Markdown's soft line breaks join lines into paragraphs; in plain text every line stands alone.
    """
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(content)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "invalid YAML"
            mark = getattr(exc, "problem_mark", None)
            where = f" (front matter line {mark.line + 1})" if mark is not None else ""
            raise CorpusError(f"broken front matter: {problem}{where}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise CorpusError("broken front matter: expected key: value pairs")
        meta = loaded or {}
        content = content[match.end() :]
    elif content.startswith("---\n"):
        raise CorpusError("broken front matter: no closing '---' line")
    lines = _markdown_lines(content) if markdown else content.splitlines()
    title = _text_field(meta, "title")
    if not title:
        # The first heading, or else the first line, is the title (the seed's own layout).
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is not None:
            title = lines[first].strip()
            del lines[first]
    text = _join_paragraphs(lines)
    if not text:
        raise CorpusError("empty: no text")
    return Article(
        id=article_id,
        title=title or article_id,
        text=text,
        date=_date_field(meta),
        url=_text_field(meta, "url"),
        lang=_text_field(meta, "lang"),
        tags=_tags_field(meta),
    )


def _markdown_lines(content: str) -> list[str]:
    """Drop Markdown syntax; a heading or list item starts a line, other lines continue one."""
    lines: list[str] = []
    joinable = False
    for raw in content.splitlines():
        heading = _HEADING.match(raw)
        item = _LIST_MARK.match(raw)
        line = heading.group(1) if heading else _LIST_MARK.sub("", raw)
        line = _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", _IMAGE.sub("", line))).strip()
        if joinable and line and not heading and not item:
            lines[-1] += " " + line
        else:
            lines.append(line)
        joinable = bool(line) and not heading
    return lines


def _join_paragraphs(lines: Iterable[str]) -> str:
    """Keep one line per line and one blank line between paragraphs; drop the rest of the space."""
    out: list[str] = []
    for line in lines:
        stripped = " ".join(line.split())
        if stripped or (out and out[-1]):
            out.append(stripped)
    return "\n".join(out).strip()


def _text_field(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise CorpusError(f"broken front matter: {key} must be text")
    return str(value).strip() or None


def _date_field(meta: dict[str, Any]) -> dt.date | None:
    value = meta.get("date")
    if value is None:
        return None
    return parse_date(value)


def parse_date(value: object) -> dt.date:
    """Read a date from YAML or JSON: a date, a datetime, or an ISO 8601 string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise CorpusError(f"broken front matter: date {value!r} is not YYYY-MM-DD")


def _tags_field(meta: dict[str, Any]) -> tuple[str, ...]:
    value = meta.get("tags")
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise CorpusError("broken front matter: tags must be a list")
    return tuple(str(tag).strip() for tag in value if str(tag).strip())


# --- HTML --------------------------------------------------------------------------------------

_SKIP_TAGS = frozenset(
    {"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "form", "svg"}
)
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5",
        "h6", "br", "tr", "table", "blockquote", "pre", "dd", "dt", "figcaption", "hr", "body",
    }
)  # fmt: skip
_DATE_META = frozenset({"date", "article:published_time", "dc.date", "pubdate", "publish-date"})


class _HTMLExtractor(HTMLParser):
    """Collect the title, metadata and the visible text of the main content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.date: str | None = None
        self.url: str | None = None
        self.lang: str | None = None
        self.body: list[str] = []  # text of the whole page outside skipped elements
        self.main: list[str] = []  # text inside <main> or <article>, when the page has one
        self._stack: list[str] = []
        self._skip = 0
        self._main = 0
        self._in_title = False
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "html" and attr.get("lang"):
            self.lang = attr["lang"]
        elif tag == "meta":
            name = (attr.get("name") or attr.get("property") or "").casefold()
            if name in _DATE_META and not self.date:
                self.date = attr.get("content")
            elif name == "og:url" and not self.url:
                self.url = attr.get("content")
        elif tag == "link" and attr.get("rel", "").casefold() == "canonical":
            self.url = attr.get("href") or self.url
        elif tag == "time" and not self.date and attr.get("datetime"):
            self.date = attr["datetime"]
        if tag in _VOID_TAGS:
            self._break(tag)
            return
        self._stack.append(tag)
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in ("main", "article"):
            self._main += 1
        self._in_title = self._in_title or tag == "title"
        self._in_h1 = self._in_h1 or tag == "h1"
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._stack:
            return  # a stray end tag: browsers ignore it, and so do we
        while self._stack:
            open_tag = self._stack.pop()
            if open_tag in _SKIP_TAGS:
                self._skip -= 1
            elif open_tag in ("main", "article"):
                self._main -= 1
            if open_tag == "title":
                self._in_title = False
            if open_tag == "h1":
                self._in_h1 = False
            self._break(open_tag)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        if self._in_h1:
            self.h1 += data
        self.body.append(data)
        if self._main:
            self.main.append(data)

    def _break(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.body.append("\n\n")
            if self._main:
                self.main.append("\n\n")


def parse_html(content: str, article_id: str) -> Article:
    """Build an article from an HTML page: its title and the text of its main content."""
    parser = _HTMLExtractor()
    parser.feed(content)
    parser.close()
    # The <h1> is the article's own title; <title> often carries the site name as well.
    title = " ".join((parser.h1 or parser.title).split())
    text = _join_paragraphs("".join(parser.main or parser.body).splitlines())
    # The page's <h1> usually repeats the title: keep the body to what follows it.
    first_line, _, rest = text.partition("\n")
    if title and first_line.strip().casefold() == " ".join(parser.h1.split()).casefold():
        text = rest.strip()
    if not text:
        raise CorpusError("empty: no text in the page")
    date = None
    if parser.date:
        try:
            date = parse_date(parser.date)
        except CorpusError:
            date = None  # a page's own date markup is too varied to reject the page for it
    return Article(
        id=article_id,
        title=title or article_id,
        text=text,
        date=date,
        url=parser.url,
        lang=parser.lang,
    )


# --- JSONL -------------------------------------------------------------------------------------


def parse_jsonl(content: str, path: str) -> tuple[list[Article], list[Problem]]:
    """Read BEIR-style records; a bad line is reported and the others still load.

    The lines are split ``JSONL_BLOCK`` characters at a time (each block ends after a line
    break, so they are ``content.splitlines()``): every line of a large file, held at once and
    then freed, left holes between the articles' texts that the process kept (430 MB of a
    959k-passage corpus, a tenth of building's peak).
    """
    articles: list[Article] = []
    problems: list[Problem] = []
    lines = (line for block in _blocks(content) for line in block.splitlines())
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            articles.append(_jsonl_article(line))
        except CorpusError as exc:
            problems.append(Problem(f"{path}:{number}", str(exc)))
    if not articles and not problems:
        problems.append(Problem(path, "empty: no records"))
    return articles, problems


def _blocks(content: str) -> Iterator[str]:
    """``content`` in pieces of about ``JSONL_BLOCK`` characters, each ending after a "\\n"."""
    start = 0
    while start < len(content):
        end = content.find("\n", start + JSONL_BLOCK)
        end = len(content) if end < 0 else end + 1
        yield content[start:end]
        start = end


def _jsonl_article(line: str) -> Article:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(record, dict):
        raise CorpusError("expected a JSON object")
    record_id = record.get("id", record.get("_id"))
    if not isinstance(record_id, str | int) or str(record_id) == "":
        raise CorpusError("missing id")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError("missing or empty text")
    title = record.get("title") or ""
    date = record.get("date")
    url = record.get("url")
    return Article(
        id=str(record_id),
        title=str(title).strip(),
        text=text.strip(),
        date=parse_date(date) if date else None,
        url=str(url) if url else None,
        lang=str(record["lang"]) if record.get("lang") else None,
    )


# --- Passages ----------------------------------------------------------------------------------


def split_passages(article: Article, target_chars: int = DEFAULT_PASSAGE_CHARS) -> list[Passage]:
    """Split an article into passages of about ``target_chars`` on paragraph and sentence bounds.

    Paragraphs are packed together while they fit; a paragraph longer than the target is cut
    between sentences. A heading never ends a passage: it goes with the text it introduces. A
    passage is never empty and never cuts a sentence.
    """
    text = article.text
    passages: list[Passage] = []
    start = end = -1
    heading_start = -1  # start of the trailing heading of the passage being packed, if any
    for piece_start, piece_end in _pieces(text, target_chars):
        if start < 0:
            start = piece_start
        elif piece_end - start > target_chars:
            cut = heading_start if heading_start > start else end
            passages.append(Passage(article, len(passages), start, _rstrip(text, start, cut)))
            start = heading_start if heading_start > start else piece_start
        end = piece_end
        heading_start = piece_start if is_heading(text, piece_start, piece_end) else -1
    if start >= 0:
        passages.append(Passage(article, len(passages), start, end))
    return passages


def is_heading(text: str, start: int, end: int) -> bool:
    """A short paragraph of one line with no closing punctuation reads as a heading.

    A sentence may close inside quotation marks (“… today.”, “……引擎。”): a paragraph that
    quotes someone is no heading. A line that a list follows ("Key facts", "要点") heads it.
    """
    piece = text[start:end]
    before = text[max(0, start - 2) : start]
    return (
        end - start <= 80
        and "\n" not in piece
        and piece.rstrip(_CLOSING_QUOTES)[-1:] not in _SENTENCE_ENDS
        and (start == 0 or before == "\n\n")
        and (text[end : end + 2] in ("\n\n", "") or _LIST_ITEM.match(text, end) is not None)
    )


_CLOSING_QUOTES = "\"'”’」』»›"
_SENTENCE_ENDS = frozenset(".!?:;。！？：；)")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*•·]|\d{1,2}[.)])[ \t]")


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _pieces(text: str, target_chars: int) -> Iterator[tuple[int, int]]:
    """Yield paragraphs that fit the target whole, and the sentences of those that don't."""
    for paragraph in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        p_start, p_end = paragraph.span()
        if p_end - p_start <= target_chars:
            yield p_start, p_end
            continue
        for s_start, s_end in sentence_spans(paragraph.group()):
            yield p_start + s_start, p_start + s_end


def split_corpus(
    articles: Iterable[Article], target_chars: int = DEFAULT_PASSAGE_CHARS
) -> list[Passage]:
    """Split every article; passages of one article are consecutive, in article order."""
    return [p for article in articles for p in split_passages(article, target_chars)]


def newest_first(articles: Iterable[Article]) -> list[Article]:
    """Articles newest first; undated ones last, in their given order."""
    return sorted(articles, key=lambda a: a.date.toordinal() if a.date else 0, reverse=True)
