"""A library built a chunk of articles and passages at a time is the one built all at once.

The reference below is how building went before chunks: every passage's, pair's, sentence's and
article's terms tokenized first, then each index built from all of them (``BM25Index.build``).
"""

from __future__ import annotations

import io
from collections import Counter
from itertools import accumulate
from pathlib import Path

import numpy as np
import pytest

from bot.core import library as library_module
from bot.core import saved as saved_module
from bot.core.analysis import sentence_spans, tokenize
from bot.core.corpus import Article, load_corpus
from bot.core.index import BM25Index
from bot.core.library import LibraryConfig, LibraryParts, term_pairs
from bot.core.saved import SavedKey, save_library
from tests.conftest import DATA
from tests.test_index import assert_same_index

CONFIG = LibraryConfig(passage_chars=120)


def corpus() -> list[Article]:
    """The test corpus, and articles whose passages and sentences are many and repeat terms."""
    extra = [
        Article(
            f"x{i}",
            f"Ferry notice {i}",
            " ".join(f"The ferry {j} sails from pier {i} at {j} am." for j in range(i % 7 + 1)),
        )
        for i in range(40)
    ]
    return [*load_corpus(DATA / "good").articles, Article("empty", "Empty", ""), *extra]


@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_a_library_built_in_chunks_equals_one_built_at_once(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library_module, "BUILD_CHUNK", chunk)
    articles = corpus()
    parts = LibraryParts.derive(articles, CONFIG)
    assert min(len(parts.articles), len(parts.passages)) > 3 * 3  # several chunks of 3
    title = {a.id: tokenize(a.title) for a in articles}
    passage_terms = [title[p.article.id] + tokenize(p.text) for p in parts.passages]
    article_terms = [Counter(title[a.id] + tokenize(a.text)) for a in articles]
    spans = [(p, s, e) for p in parts.passages for s, e in sentence_spans(p.text)]
    expected = {
        "index": passage_terms,
        "article_index": [
            title[a.id] * (CONFIG.title_weight - 1) + list(counts.elements())
            for a, counts in zip(articles, article_terms, strict=True)
        ],
        "pair_index": [term_pairs(tokenize(p.text)) for p in parts.passages],
        "sentence_index": [title[p.article.id] + tokenize(p.text[s:e]) for p, s, e in spans],
    }
    for name, docs in expected.items():
        assert_same_index(getattr(parts, name), BM25Index.build(docs))
    assert list(parts.passage_terms) == passage_terms
    # Term counts in the order the article first has them: feedback breaks ties by it.
    assert [list(c.items()) for c in parts.article_terms] == [
        list(c.items()) for c in article_terms
    ]
    owners = [row for row, p in enumerate(parts.passages) for _ in sentence_spans(p.text)]
    assert parts.sentence_passage.tolist() == owners
    assert parts.sentence_first[-1] == len(owners)
    assert np.array_equal(
        parts.article_first, np.searchsorted(parts.article_of, np.arange(len(articles) + 1))
    )


def test_the_articles_texts_are_saved_as_numpy_saves_an_array_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written a few articles at a time, not made one array first: the same file, byte for byte."""
    monkeypatch.setattr(saved_module, "BLOB_STEP", 3)
    articles = [*corpus(), Article("odd", "Lone surrogate", "A \ud800 survives.")]
    parts = LibraryParts.derive(articles, CONFIG)
    save_library(parts, tmp_path / "library", SavedKey(CONFIG, None, {}))
    texts = [a.text.encode(errors="surrogatepass") for a in articles]
    expected = io.BytesIO()
    np.save(expected, np.frombuffer(b"".join(texts), dtype=np.uint8), allow_pickle=False)
    assert (tmp_path / "library" / "article_text.npy").read_bytes() == expected.getvalue()
    ends = np.load(tmp_path / "library" / "article_text_ends.npy")
    assert ends.tolist() == list(accumulate(map(len, texts)))
