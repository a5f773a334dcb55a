import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from bot.core import corpus as corpus_module
from bot.core.corpus import (
    Article,
    is_heading,
    load_corpus,
    parse_html,
    parse_jsonl,
    parse_text,
    split_passages,
)


def test_folder_loads_every_format_with_stable_ids(good_dir: Path) -> None:
    corpus = load_corpus(good_dir)
    assert corpus.problems == ()
    assert sorted(a.id for a in corpus.articles) == [
        "festival.html",
        "library-hours.txt",
        "news/ferry-timetable.md",
        "parking-rules",
        "recall-77",
        "water-tariff",
        "zh-park.md",
    ]


def test_markdown_front_matter_and_body(good_dir: Path) -> None:
    article = next(a for a in load_corpus(good_dir).articles if a.id.endswith("ferry-timetable.md"))
    assert article.title == "Harbour ferry moves to a winter timetable"
    assert article.date == dt.date(2026, 10, 2)
    assert article.url == "https://example.org/news/ferry-winter-timetable"
    assert article.lang == "en"
    assert article.tags == ("transport", "ferry")
    # Headings lose their marks; Markdown's wrapped lines join into one paragraph.
    assert article.text.startswith("Winter service\n\nFrom 1 November 2026 the harbour ferry")
    assert "20 minutes. The last crossing" in article.text
    assert "#" not in article.text


def test_text_file_title_is_its_first_line(good_dir: Path) -> None:
    article = load_corpus(good_dir / "library-hours.txt").articles[0]
    assert article.title == "Central library extends its opening hours"
    assert article.text.startswith("The central library will open on Sundays")
    assert article.id == "library-hours.txt"


def test_html_keeps_main_text_and_drops_boilerplate(good_dir: Path) -> None:
    article = load_corpus(good_dir / "festival.html").articles[0]
    assert article.title == "Lantern festival returns to the riverside"
    assert article.date == dt.date(2026, 9, 15)
    assert article.url == "https://example.org/news/lantern-festival"
    assert article.text == (
        "The lantern festival takes place on 24 October 2026 along the east bank of the river."
        "\n\nAbout 3,000 lanterns will be released after sunset, and food stalls open at 17:00."
    )


def test_html_without_main_uses_body_and_title() -> None:
    page = "<html><head><title>Notice</title></head><body><p>Pool closed &amp; drained.</p></body>"
    article = parse_html(page, "pool.html")
    assert (article.title, article.text) == ("Notice", "Pool closed & drained.")


def test_jsonl_records_are_articles(good_dir: Path) -> None:
    corpus = load_corpus(good_dir / "records.jsonl")
    lamp = corpus.articles[0]
    assert (lamp.id, lamp.title, lamp.date) == (
        "recall-77",
        "Recall of the Model 77 bicycle lamp",
        dt.date(2026, 8, 20),
    )
    assert lamp.url == "https://example.org/news/lamp-recall"


def test_bad_files_are_reported_and_the_rest_load() -> None:
    corpus = load_corpus(Path(__file__).parent / "data" / "bad")
    assert sorted(a.id for a in corpus.articles) == ["ok-1", "readable.txt"]
    reasons = {Path(p.path).name: p.reason for p in corpus.problems}
    assert reasons == {
        "bad-date.md": "broken front matter: date 'next tuesday' is not YYYY-MM-DD",
        "broken-front-matter.md": reasons["broken-front-matter.md"],
        "empty-body.md": "empty: no text",
        "empty.txt": "empty: no text",
        "latin1.txt": "not UTF-8 text (byte 3)",
        "mixed.jsonl:2": "invalid JSON: Expecting value",
        "mixed.jsonl:3": "missing or empty text",
    }
    assert reasons["broken-front-matter.md"].startswith("broken front matter: ")
    assert reasons["broken-front-matter.md"].endswith("(front matter line 2)")


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    corpus = load_corpus(tmp_path / "nowhere")
    assert corpus.articles == ()
    assert corpus.problems[0].reason == "no such file or folder"


def test_duplicate_jsonl_ids_are_reported(tmp_path: Path) -> None:
    line = '{"id": "a", "title": "T", "text": "Some text."}\n'
    (tmp_path / "one.jsonl").write_text(line)
    (tmp_path / "two.jsonl").write_text(line)
    corpus = load_corpus(tmp_path)
    assert len(corpus.articles) == 1
    assert corpus.problems[0].reason == "duplicate article id 'a'"


def test_unclosed_front_matter_is_reported() -> None:
    with pytest.raises(ValueError, match="no closing"):
        parse_text("---\ntitle: x\nbody\n", "x.md")


def _article(text: str) -> Article:
    return Article(id="a", title="T", text=text)


def test_passages_pack_paragraphs_and_keep_spans() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 30 for i in range(6)]
    article = _article("\n\n".join(p.strip() for p in paragraphs))
    passages = split_passages(article, target_chars=400)
    assert [p.position for p in passages] == list(range(len(passages)))
    assert all(len(p.text) <= 400 for p in passages)
    assert len(passages) == 3  # two ~165-character paragraphs per passage
    for passage in passages:
        assert passage.text == article.text[passage.start : passage.end]
        assert passage.text.startswith("Paragraph")


def test_long_paragraph_is_cut_between_sentences() -> None:
    article = _article(" ".join(f"Sentence number {i} is here." for i in range(40)))
    passages = split_passages(article, target_chars=200)
    assert len(passages) > 1
    assert all(p.text.startswith("Sentence") and p.text.endswith(".") for p in passages)


def test_a_heading_goes_with_the_text_it_introduces() -> None:
    article = _article("Intro sentence. " * 12 + "\n\nPrices\n\nThe ticket costs 2 euros.")
    passages = split_passages(article, target_chars=200)
    assert passages[-1].text == "Prices\n\nThe ticket costs 2 euros."


@pytest.mark.parametrize(
    "paragraph",
    [
        "“We are proud of the new trains.”",
        '"Tickets go on sale today."',
        "(Tickets go on sale today.)",
        "董事会秘书沈清和表示：“低温产品已经成为公司最重要的增长引擎。”",
    ],
)
def test_a_short_quoted_paragraph_is_no_heading(paragraph: str) -> None:
    # Its sentence closes inside the quotation marks or brackets.
    text = f"The line reopens on Monday.\n\n{paragraph}\n\nMore to follow."
    start = text.index(paragraph)
    assert not is_heading(text, start, start + len(paragraph))


@pytest.mark.parametrize("label", ["Key facts", "要点"])
def test_a_line_that_a_list_follows_heads_it(label: str) -> None:
    text = f"The line reopens on Monday.\n\n{label}\n- Reopens: Monday\n- Trains: every 20 minutes"
    start = text.index(label)
    assert is_heading(text, start, start + len(label))
    item = text.index("- Trains")
    assert not is_heading(text, item, len(text))


def test_a_short_paragraph_without_closing_punctuation_is_a_heading() -> None:
    text = "The line reopens on Monday.\n\n“New trains”\n\nThey arrive in May."
    start = text.index("“")
    assert is_heading(text, start, text.index("”") + 1)


# --- What a folder walk skips is reported -------------------------------------------------------

NOTICE = "Pool notice\n\nThe pool closes on Monday.\n"


def test_dangling_links_and_link_loops_are_reported(tmp_path: Path) -> None:
    (tmp_path / "pool.txt").write_text(NOTICE)
    (tmp_path / "gone.md").symlink_to(tmp_path / "deleted.md")
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)  # a folder that contains itself
    corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["pool.txt"]
    reasons = {Path(p.path).relative_to(tmp_path).as_posix(): p.reason for p in corpus.problems}
    assert reasons == {
        "gone.md": f"broken link: {tmp_path / 'deleted.md'} does not exist",
        "self.md": "symbolic link loop",
        "sub/up": f"symbolic link loop: the folder {tmp_path} is read already",
    }


def test_an_unreadable_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pool.txt").write_text(NOTICE)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.txt").write_text(NOTICE)
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "private":  # as chmod 000 would, for anyone but root
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["pool.txt"]
    [problem] = corpus.problems
    assert problem.path == str(tmp_path / "private")
    assert problem.reason == "cannot read the folder: Permission denied"


def test_utf16_without_a_byte_order_mark_is_reported_not_indexed(tmp_path: Path) -> None:
    (tmp_path / "notice.txt").write_bytes(NOTICE.encode("utf-16-le"))
    (tmp_path / "big-endian.md").write_bytes(NOTICE.encode("utf-16-be"))
    corpus = load_corpus(tmp_path)
    assert corpus.articles == ()
    assert {Path(p.path).name: p.reason for p in corpus.problems} == {
        "notice.txt": "not UTF-8 text (NUL bytes: UTF-16 without a byte order mark?)",
        "big-endian.md": "not UTF-8 text (NUL bytes: UTF-16 without a byte order mark?)",
    }


def test_a_walk_keeps_the_order_of_sorted_paths(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for name in ("a.md", "a/b.md", "b.md", ".hidden.md"):
        (tmp_path / name).write_text(NOTICE)
    assert [a.id for a in load_corpus(tmp_path).articles] == ["a/b.md", "a.md", "b.md"]


@pytest.mark.parametrize("block", [1, 7, 64])
def test_a_jsonl_file_read_in_blocks_gives_the_lines_of_the_whole(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks end after a line feed, so a CRLF, a lone CR or a blank line reads as in one piece."""
    content = (
        '{"id": "a", "title": "Ferry", "text": "Sails at dawn."}\r\n'
        "\n"
        "not json\r"
        '{"id": "b", "text": "Park opens."}\n'
        '{"id": "c"}\n'
        '{"id": "d", "text": "Fares\\u2028rise."}'
    )
    whole = parse_jsonl(content, "f.jsonl")
    monkeypatch.setattr(corpus_module, "JSONL_BLOCK", block)
    assert parse_jsonl(content, "f.jsonl") == whole
    assert [a.id for a in whole[0]] == ["a", "b", "d"]
    assert [p.path for p in whole[1]] == ["f.jsonl:3", "f.jsonl:5"]
