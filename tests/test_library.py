import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bot.core.analysis import tokenize
from bot.core.corpus import Article
from bot.core.library import BEST_DEPTH, Library, term_pairs


def test_term_pairs_join_adjacent_latin_terms_only() -> None:
    assert term_pairs(tokenize("boundary layer transition")) == [
        "boundari layer",
        "layer transit",
    ]
    # CJK bigrams are pairs already; a Latin word next to one makes no pair either.
    assert term_pairs(tokenize("渡轮 ferry 时刻")) == []


def test_words_spread_over_an_article_rank_it_first() -> None:
    spread = Article(
        "a",
        "Harbour",
        "The ferry sails at dawn from the old stone pier by the market square.\n\n"
        "Winter fares are low for everyone who travels often.",
    )
    short = Article("b", "Notes", "The ferry leaves at dawn.")
    parks = [
        Article(f"p{i}", "Park", "The park closes at dusk. Dogs must be on a lead.")
        for i in range(4)
    ]
    question = "ferry at dawn and its fares"
    # By passages alone the short note wins: no passage of "a" has all three words.
    alone = Library(
        [short, spread, *parks],
        passage_chars=100,
        article_weight=0,
        pair_weight=0,
        sentence_weight=0,
        sentence_coverage=0,
    )
    assert [hit.article.id for hit in alone.search(question, k=2)] == ["b", "a"]
    library = Library([short, spread, *parks], passage_chars=100)
    assert [hit.article.id for hit in library.search(question, k=2)] == ["a", "b"]


def test_a_passage_with_the_question_in_one_sentence_ranks_first() -> None:
    scattered = Article(
        "a",
        "Harbour",
        "The ferry runs daily; the ferry is fast and the ferry is new. Winter is cold here. "
        "Fares rise each spring.",
    )
    together = Article(
        "b",
        "Town",
        "Winter ferry fares are low this year for all the people of the town, say the officials "
        "who run the council of the old harbour town by the sea.",
    )
    parks = [Article(f"p{i}", "Park", "The park closes at dusk.") for i in range(4)]
    question = "winter ferry fares"
    articles = [scattered, together, *parks]
    # Without the sentence evidence, repeating "ferry" in a shorter text wins.
    alone = Library(articles, sentence_weight=0, sentence_coverage=0)
    assert [hit.article.id for hit in alone.search(question, k=2)] == ["a", "b"]
    library = Library(articles)
    assert [hit.article.id for hit in library.search(question, k=2)] == ["b", "a"]


def test_a_when_question_ranks_the_passage_with_a_date_first() -> None:
    soon = Article("a", "Ferry news", "The new ferry sails from the north pier soon.")
    dated = Article(
        "b",
        "Ferry news",
        "The new ferry sails from the north pier on 4 May 2026, weather permitting.",
    )
    parks = [Article(f"p{i}", "Park", "The park closes at dusk.") for i in range(2)]
    library = Library([soon, dated, *parks])
    # The shorter passage wins on its words alone ...
    asked = "the new ferry sail from the north pier?"
    assert [hit.article.id for hit in library.search(f"Does {asked}", k=2)] == ["a", "b"]
    # ... but "when" asks for a date, which only the longer one has.
    assert [hit.article.id for hit in library.search(f"When does {asked}", k=2)] == ["b", "a"]


@given(st.lists(st.integers(0, 3), min_size=1, max_size=60), st.integers(1, 8))
def test_best_per_article_is_the_best_passage_of_each_best_article(
    levels: list[int], k: int
) -> None:
    # Articles of 1 to 6 passages; scores with many ties, 0 for some (unmatched).
    articles = [
        Article(f"a{i}", f"Notice {i}", "\n\n".join(f"Part {j} of {i}." for j in range(i % 6 + 1)))
        for i in range(12)
    ]
    library = Library(articles, passage_chars=20)
    rows = len(library.passages)
    scores = np.array([float(levels[i % len(levels)]) for i in range(rows)])
    # Reference: every matched passage sorted, best first, ties by position.
    wanted, seen = [], set()
    for i in sorted(np.flatnonzero(scores > 0).tolist(), key=lambda i: (-scores[i], i)):
        if library.passages[i].article.id not in seen:
            seen.add(library.passages[i].article.id)
            wanted.append(i)
    hits = library.best_per_article(scores, k)
    assert [h.row for h in hits] == wanted[:k]
    assert [h.score for h in hits] == [scores[i] for i in wanted[:k]]


def test_best_per_article_looks_past_one_article_s_many_passages() -> None:
    many = Article("many", "Ferry", "\n\n".join(f"The ferry sails, part {i}." for i in range(40)))
    other = Article("other", "Pier", "The pier is closed.")
    library = Library([many, other], passage_chars=30)
    assert np.count_nonzero(library.article_of == 0) > BEST_DEPTH * 2  # more than a first look
    scores = np.where(library.article_of == 0, 2.0, 1.0)
    hits = library.best_per_article(scores, 2)
    assert [h.article.id for h in hits] == ["many", "other"]
