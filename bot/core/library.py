"""The searchable library: articles, their passages and the BM25 indexes that rank them.

A passage is scored by six pieces of evidence, all lexical:

- *Passage BM25*: the question's terms in the passage, which is indexed with its article's title.
  This is what picks the passage to quote.
- *Article BM25*: the question's terms in the whole article, its title counted ``TITLE_WEIGHT``
  times (a BM25F-like field weight, since a title names what the article is about). The words
  of a question are often spread over two passages of the article that answers it, and the best
  passage alone then loses to a passage of another article that repeats one of them.
  Every passage gets its article's score, mixed with its own as
  ``article_weight * article + (1 - article_weight) * passage``; the best passage of an article
  is therefore still the best by its own score.
- *Best sentence*: the question's terms in the passage's best sentence, indexed with the title.
  A question (SQuAD's above all) usually paraphrases one sentence, so the passage holding a
  sentence with most of its words beats one that has them scattered, or that repeats one of them
  in sentence after sentence. Its BM25 score is added with weight ``sentence_weight``, then the
  passage's score is multiplied by ``1 - sentence_coverage + sentence_coverage * share``, where
  ``share`` is that sentence's share of the question's idf² mass (squared: a rare word names the
  subject, a common one may be phrased any way). Only questions in Latin script get this
  evidence: a Chinese question is not split into words, and its bigrams that straddle two words
  are in a sentence or not by chance.
- *Term pairs*: adjacent Latin-script terms ("super bowl", "boundari layer") indexed as one term,
  so a passage that has the question's words next to each other beats one that has them apart.
  CJK text is left out: its bigrams are already pairs of characters.
- *Feedback*, for long queries only: the best articles lend the query their most telling
  other terms (RM3-like pseudo-relevance feedback). A long query describes a topic in words of its
  own, which the articles on that topic often phrase differently; a short question names its
  subject, and expanding it mostly adds the vocabulary of the wrong article.
- *Answer form*, for Latin-script questions that ask for a date, a number or a name
  (:mod:`bot.core.forms`): of the ``FORM_DEPTH`` best passages, those whose best sentence has text
  of that form gain a share of the best one's score. A question is most often answered by the
  sentence that has its words *and* its answer; close candidates are told apart by the second.

Computing all of this for every passage is a pass over arrays of the corpus's size for each
piece. From ``PRUNE_FROM`` passages only the passages worth scoring are scored
(:mod:`bot.core.pruning`: those of the best articles by the article index and of the best
sentences by the sentence index), each read from the indexes at its row
(``weighted_scores_at``), which gives it the score that scoring every passage
(:meth:`Library.scores`) gives it, bit for bit. Feedback's lent terms then reorder the same
passages, and the answer's form is read in the best of them.

With the semantic stage (:mod:`bot.core.semantic`), :meth:`Library.evidence` fuses these scores
with meaning: the ``FUSION_DEPTH`` best passages by BM25 and the as many closest by meaning are
the candidates, and each gets ``LEXICAL_SHARE`` × its lexical score over the best one's, plus the
rest × the mean of its own and its closest sentence's cosine with the question, both scaled from
the least to the most among the candidates. The share was measured on the announcements set
(0.2 of 0.2-0.5 and rank fusion), whose questions are short paraphrases that share few words with
their answers. A long question (``FEEDBACK_MIN_TERMS`` distinct Latin terms or more, as for
feedback) describes its topic in many words, each one matched or not, and its words say as much
as its meaning: ``LONG_LEXICAL_SHARE``. On Cranfield's long descriptions nDCG@10 0.3927 -> 0.4105
(both halves of its queries, 0.398 -> 0.418 and 0.387 -> 0.403); on the announcements set (all
shown 0.830, each half alike) nothing changed, on 3,000 SQuAD questions 0.8360 -> 0.8367.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from bot.core.analysis import is_cjk, sentence_spans, tokenize
from bot.core.corpus import DEFAULT_PASSAGE_CHARS, Article, Passage, split_corpus
from bot.core.forms import Form, answer_form
from bot.core.index import (
    BM25Index,
    FloatArray,
    IndexBuilder,
    TermIndex,
    Variant,
    run_starts,
    top_k,
)
from bot.core.pruning import candidates, ranges
from bot.core.semantic import (
    PROGRESS_FROM,
    Embedder,
    EmbeddingCache,
    Progress,
    Vectors,
    centroids,
    embed_passages,
)
from bot.core.terms import ArticleTerms, PassageTerms

ARTICLE_WEIGHT = 0.9  # share of the article's score in a passage's score
TITLE_WEIGHT = 5  # times a title's terms count in the article index
PAIR_WEIGHT = 0.3  # weight of an adjacent-term pair against a single term
SENTENCE_WEIGHT = 0.3  # weight of the passage's best sentence BM25 score
SENTENCE_COVERAGE = 0.5  # how much the best sentence's share of the question scales the score
# Distinct Latin terms from which a query is long enough to expand: a question of seven or eight
# terms still names its subject (SQuAD), and its best sentence now finds it better than feedback.
FEEDBACK_MIN_TERMS = 9
FEEDBACK_ARTICLES = 10  # best articles that lend terms
FEEDBACK_TERMS = 20  # terms they lend
# All lent terms together weigh this share of the query's own distinct terms: enough to reorder
# the articles the query found, too little to outvote its own words.
FEEDBACK_WEIGHT = 0.5
FORM_DEPTH = 10  # best passages whose best sentence is read for the answer's form
FORM_WEIGHT = 0.2  # its bonus, as a share of the best passage's score
# Fusion with the semantic stage (see the module's docstring): the lexical score's share, for a
# short question and for a long one, and how many of the best passages by each stage are
# candidates whose scores set the normalisation.
LEXICAL_SHARE = 0.2
LONG_LEXICAL_SHARE = 0.5
FUSION_DEPTH = 100
# Passages best_per_article sorts first for each article it is asked for (see there).
BEST_DEPTH = 4
QUERY_MEMORY = 256  # questions whose vectors are remembered (see Library.encode_query)
# Articles or passages tokenized at a time while a library is built (see LibraryParts.derive):
# few enough that their terms take little memory, many enough that numbering them into arrays
# costs nothing beside tokenizing them. A progress bar of building moves a chunk at a time.
BUILD_CHUNK = 4096
T = TypeVar("T")


Similarity = Callable[[str, Sequence[str]], list[float]]


@runtime_checkable
class HasIds(Protocol):
    """Articles that list their ids without making each article (a saved library's)."""

    def ids(self) -> Iterator[str]:
        """Each article's id, in order."""
        ...


def titled(title: str, text: str) -> str:
    """A passage or sentence as it is embedded: after its article's title."""
    return f"{title}\n{text}"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What says each of the passages ``rows`` (ascending library rows) answers a question.

    The passages are those worth scoring (see :meth:`Library.evidence`); each array holds their
    values, in that order. ``lexical`` is the BM25 stage's score; ``passage`` the cosine of the
    question and the passage (with its title); ``sentence`` the cosine of the question and the
    passage's closest sentence; ``fused`` the score that ranks. Without a semantic stage the
    cosines are None and ``fused`` is ``lexical``. ``sentences`` holds every sentence's cosine, in
    sentence-index order.
    """

    rows: npt.NDArray[np.int64]
    lexical: FloatArray
    passage: FloatArray | None
    sentence: FloatArray | None
    fused: FloatArray
    sentences: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """A question's terms as the lexical evidence weighs them.

    ``terms`` count as often as the question has them; ``pairs`` are its adjacent term pairs;
    ``mass`` holds each term's idf², the weight of its share of a sentence, or is None for a
    question with CJK terms, which gets no sentence evidence; ``lent`` holds the terms feedback
    lends it, weighted.
    """

    terms: Mapping[str, float]
    pairs: Mapping[str, float]
    mass: Mapping[str, float] | None
    lent: Mapping[str, float] = field(default_factory=dict)

    @property
    def latin_terms(self) -> int:
        """Its distinct terms in Latin script: CJK bigrams don't count a question's words."""
        return sum(not is_cjk(t) for t in self.terms)

    @property
    def long(self) -> bool:
        """Whether it describes its topic in many words (``FEEDBACK_MIN_TERMS``): feedback lends
        it terms, and in the fusion its words weigh as much as its meaning."""
        return self.latin_terms >= FEEDBACK_MIN_TERMS


@dataclass(frozen=True, slots=True)
class Scored:
    """The scores of some passages: ``values[i]`` is that of library row ``rows[i]``."""

    rows: npt.NDArray[np.int64]  # ascending
    values: FloatArray


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage that matched a query, with its score (see the module's docstring)."""

    passage: Passage
    score: float
    row: int  # the passage's position in the library, and so in its index

    @property
    def article(self) -> Article:
        return self.passage.article


@dataclass(frozen=True, slots=True)
class LibraryConfig:
    """The settings of a library: what shapes its parts, and how the evidence is weighed.

    ``passage_chars``, ``variant``, ``k1``, ``b`` and ``title_weight`` shape the parts
    (:meth:`LibraryParts.derive`); ``article_weight``, ``pair_weight``, ``sentence_weight`` and
    ``sentence_coverage`` only weigh the evidence at query time (see the module's docstring).
    """

    passage_chars: int = DEFAULT_PASSAGE_CHARS
    variant: Variant = "lucene"
    k1: float = 1.2
    b: float = 0.75
    article_weight: float = ARTICLE_WEIGHT
    title_weight: int = TITLE_WEIGHT
    pair_weight: float = PAIR_WEIGHT
    sentence_weight: float = SENTENCE_WEIGHT
    sentence_coverage: float = SENTENCE_COVERAGE


@dataclass(frozen=True, slots=True, eq=False)
class LibraryParts:
    """What a library is made of, all derived from its articles (:meth:`derive`).

    ``passages`` are the articles' passages in article order; ``passage_terms`` each one's terms
    (its article's title first); ``article_terms`` each article's term counts (title once), which
    feedback reads. The four indexes rank passages (with their title), articles (title counted
    ``title_weight`` times), adjacent term pairs and sentences (with their title). Passage ``row``
    belongs to article ``article_of[row]``; article ``i``'s passages are the rows
    ``article_first[i]`` up to ``article_first[i + 1]``; sentence ``s`` belongs to passage
    ``sentence_passage[s]``, and passage ``row``'s sentences are ``sentence_first[row]`` up to
    ``sentence_first[row + 1]``. The vectors (None without a semantic stage) are in passage and
    sentence-index order.
    """

    articles: Sequence[Article]
    passages: Sequence[Passage]
    passage_terms: Sequence[list[str]]
    article_terms: Sequence[Counter[str]]
    index: BM25Index
    article_index: BM25Index
    pair_index: BM25Index
    sentence_index: BM25Index
    article_of: npt.NDArray[np.int64]
    article_first: npt.NDArray[np.int64]
    sentence_passage: npt.NDArray[np.int64]
    sentence_first: npt.NDArray[np.int64]
    passage_vectors: Vectors | None = None
    sentence_vectors: Vectors | None = None

    @classmethod
    def derive(
        cls,
        articles: Iterable[Article],
        config: LibraryConfig,
        embedder: Embedder | None = None,
        cache: EmbeddingCache | None = None,
        *,
        progress: bool = False,
    ) -> LibraryParts:
        """Split, tokenize, index and (with an ``embedder``) embed ``articles``.

        Articles and passages are tokenized ``BUILD_CHUNK`` at a time, their terms numbered
        into the indexes' arrays (:class:`bot.core.index.IndexBuilder`) and let go: building
        holds 4 bytes a token rather than every token's string. The parts keep no term list
        either (:mod:`bot.core.terms`). ``progress`` shows a progress bar of each stage
        (:class:`bot.core.semantic.Progress`).
        """
        articles = tuple(articles)

        def built(builder: IndexBuilder) -> BM25Index:
            index, _ = builder.build(k1=config.k1, b=config.b, variant=config.variant)
            return index

        passages = split_corpus(articles, config.passage_chars)
        title_terms = {a.id: tokenize(a.title) for a in articles}
        article_index, article_terms = _articles_indexed(articles, title_terms, config, progress)
        position = {a.id: i for i, a in enumerate(articles)}
        article_of = np.fromiter(
            (position[p.article.id] for p in passages), dtype=np.int64, count=len(passages)
        )
        # Sentences never cross a passage's bounds, so each belongs to exactly one passage. The
        # title is part of every sentence: a question's words that name the subject are then
        # found in each sentence of the article about it, and the rest decide between them.
        passage_builder, pair_builder = IndexBuilder(), IndexBuilder()
        sentence_builder = IndexBuilder()
        owners = []
        row = 0
        for chunk in _chunks(passages, "tokenizing passages", progress):
            passage_docs, pair_docs, sentence_docs, owner = [], [], [], []
            for p in chunk:
                title, text = title_terms[p.article.id], p.text
                words = tokenize(text)
                passage_docs.append(title + words)
                pair_docs.append(term_pairs(words))
                for start, end in sentence_spans(text):
                    sentence_docs.append(title + tokenize(text[start:end]))
                    owner.append(row)
                row += 1
            passage_builder.add(passage_docs)
            pair_builder.add(pair_docs)
            sentence_builder.add(sentence_docs)
            owners.append(np.array(owner, dtype=np.int64))
        sentence_passage = _joined(owners, np.int64)
        # What only tokenizing needed is let go before the indexes are made, building's peak.
        del title_terms, position, owners
        sentence_first = np.searchsorted(sentence_passage, np.arange(len(passages) + 1))
        passage_vectors = sentence_vectors = None
        if embedder is not None:
            cache = cache if cache is not None else EmbeddingCache()
            # A sentence is embedded after its article's title: alone, the sentence that names the
            # company and the product is closest to every question about them; with the title,
            # every sentence names them, and the one that says what the question asks is closest.
            sentence_vectors = embed_passages(
                embedder,
                [
                    titled(p.article.title, p.text[start:end])
                    for p in passages
                    for start, end in sentence_spans(p.text)
                ],
                cache,
                label="embedding sentences",
            )
            # A passage's vector is its sentences' mean (see :func:`centroids`), not the passage
            # embedded whole (with its title), which doubled the time of a first build.
            passage_vectors = centroids(sentence_vectors, sentence_first)
        index = built(passage_builder)
        pair_index = built(pair_builder)
        sentence_index = built(sentence_builder)
        return cls(
            articles=articles,
            passages=passages,
            passage_terms=PassageTerms(passages),
            article_terms=article_terms,
            index=index,
            article_index=article_index,
            pair_index=pair_index,
            sentence_index=sentence_index,
            article_of=article_of,
            # An article's passages are consecutive (split_corpus), a passage's sentences too.
            article_first=np.searchsorted(article_of, np.arange(len(articles) + 1)),
            sentence_passage=sentence_passage,
            sentence_first=sentence_first,
            passage_vectors=passage_vectors,
            sentence_vectors=sentence_vectors,
        )


class Library:
    """Everything the bot knows: articles, passages, and the indexes that rank the passages.

    A passage is indexed with its article's title, so a question naming the product finds every
    passage of the article about it, not just the first. ``article_weight``, ``title_weight``
    ``pair_weight``, ``sentence_weight`` and ``sentence_coverage`` set the evidence described in
    the module's docstring; 0 turns the article score, the pairs or the sentence evidence off.

    ``Library(articles, ...)`` derives its parts from the articles; :meth:`from_parts` assembles
    one from parts already made (loaded from disk).

    The tables and indexes are typed by what scoring needs of them (sequences,
    :class:`~bot.core.index.TermIndex`): a library served in segments (:mod:`bot.core.live`)
    puts views of its segments' there. Its ``removed_rows`` mark the passages of articles taken
    out since (None: there are none); they score 0 and are never candidates.
    """

    articles: Sequence[Article]
    passages: Sequence[Passage]
    passage_terms: Sequence[list[str]]  # each passage's terms, its title's first
    article_terms: Sequence[Counter[str]]
    index: TermIndex
    article_index: TermIndex
    pair_index: TermIndex
    sentence_index: TermIndex
    removed_rows: npt.NDArray[np.bool_] | None = None

    def __init__(
        self,
        articles: Iterable[Article],
        *,
        passage_chars: int = DEFAULT_PASSAGE_CHARS,
        variant: Variant = "lucene",
        k1: float = 1.2,
        b: float = 0.75,
        article_weight: float = ARTICLE_WEIGHT,
        title_weight: int = TITLE_WEIGHT,
        pair_weight: float = PAIR_WEIGHT,
        sentence_weight: float = SENTENCE_WEIGHT,
        sentence_coverage: float = SENTENCE_COVERAGE,
        embedder: Embedder | None = None,
        cache: EmbeddingCache | None = None,
    ) -> None:
        config = LibraryConfig(
            passage_chars=passage_chars,
            variant=variant,
            k1=k1,
            b=b,
            article_weight=article_weight,
            title_weight=title_weight,
            pair_weight=pair_weight,
            sentence_weight=sentence_weight,
            sentence_coverage=sentence_coverage,
        )
        cache = cache if cache is not None else EmbeddingCache()
        self._assemble(
            LibraryParts.derive(articles, config, embedder, cache), config, embedder, cache
        )

    @classmethod
    def from_parts(
        cls,
        parts: LibraryParts,
        config: LibraryConfig,
        embedder: Embedder | None = None,
        cache: EmbeddingCache | None = None,
    ) -> Library:
        """A library of ``parts`` made with ``config`` (and ``embedder``, for their vectors)."""
        library = cls.__new__(cls)
        library._assemble(parts, config, embedder, cache if cache is not None else EmbeddingCache())
        return library

    def _assemble(
        self,
        parts: LibraryParts,
        config: LibraryConfig,
        embedder: Embedder | None,
        cache: EmbeddingCache,
    ) -> None:
        if (parts.passage_vectors is None) != (embedder is None):
            raise ValueError("a library has vectors exactly when it has an embedder")
        self.parts, self.config = parts, config
        self.articles = parts.articles
        self.passages = parts.passages
        self.passage_terms = parts.passage_terms
        self.article_terms = parts.article_terms
        self.index, self.article_index = parts.index, parts.article_index
        self.pair_index, self.sentence_index = parts.pair_index, parts.sentence_index
        self.article_of, self.article_first = parts.article_of, parts.article_first
        self.sentence_passage, self.sentence_first = parts.sentence_passage, parts.sentence_first
        self.passage_vectors = parts.passage_vectors
        self.sentence_vectors = parts.sentence_vectors
        self.passage_chars = config.passage_chars
        self.variant, self.k1, self.b = config.variant, config.k1, config.b
        self.article_weight, self.title_weight = config.article_weight, config.title_weight
        self.pair_weight = config.pair_weight
        self.sentence_weight = config.sentence_weight
        self.sentence_coverage = config.sentence_coverage
        self.embedder = embedder
        self.cache = cache
        self._queries: dict[str, Vectors] = {}  # oldest first, see encode_query
        self._queries_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.articles)

    @property
    def passage_count(self) -> int:
        """How many passages can be found: a view's rows of removed articles left out."""
        removed = 0 if self.removed_rows is None else int(np.count_nonzero(self.removed_rows))
        return len(self.passages) - removed

    @cached_property
    def article_position(self) -> Mapping[str, int]:
        """Each article's place in ``articles``, by id, made on first use: a dict of every article
        costs tens of milliseconds at 100k articles (see :func:`bot.core.live.prepared`).
        """
        articles = self.articles
        ids = articles.ids() if isinstance(articles, HasIds) else (a.id for a in articles)
        return {identifier: i for i, identifier in enumerate(ids)}

    def replace(self, added: Sequence[Article] = (), removed: Iterable[str] = ()) -> Library:
        """Return a library with ``added`` articles put in (replacing same ids) and ids removed.

        It is built whole, from every article: :func:`bot.core.live.changed` makes the same
        library's view in time proportional to the change.
        """
        drop = set(removed) | {a.id for a in added}
        kept = [a for a in self.articles if a.id not in drop]
        return self.like([*kept, *added])

    def like(self, articles: Iterable[Article], *, embed: bool = True) -> Library:
        """A library of ``articles`` with this one's settings, embedder and embedding cache.

        Without ``embed`` it has no semantic stage: only its statistics are read.
        """
        embedder = self.embedder if embed else None
        parts = LibraryParts.derive(articles, self.config, embedder, self.cache)
        return Library.from_parts(parts, self.config, embedder, self.cache)

    def encode_query(self, text: str) -> Vectors | None:
        """The question's vector, or None without a semantic stage.

        The last ``QUERY_MEMORY`` questions' vectors are remembered: a question is ranked
        (``search``) and answered (``answer``) with one embedding, and "More" asks it again.
        """
        if self.embedder is None or not text.strip():
            return None
        with self._queries_lock:  # answers run on worker threads, several at once
            vector = self._queries.pop(text, None)
        if vector is None:
            vector = self.embedder.queries([text])[0]
        with self._queries_lock:
            self._queries[text] = vector
            if len(self._queries) > QUERY_MEMORY:
                del self._queries[next(iter(self._queries))]
        return vector

    def similarity(self, vector: Vectors | None) -> Similarity | None:
        """A function giving sentences' cosines with the question's ``vector`` (None without one).

        It takes an article's title and sentences of it, mostly embedded already: the cache
        answers, and only a sentence cut differently is embedded now.
        """
        embedder = self.embedder
        if vector is None or embedder is None:
            return None

        def cosines(title: str, texts: Sequence[str]) -> list[float]:
            vectors = embed_passages(embedder, [titled(title, t) for t in texts], self.cache)
            return [float(c) for c in vectors @ vector]

        return cosines

    def article_sentences(self, row: int) -> npt.NDArray[np.int64]:
        """The sentence-index rows of the article of passage ``row``."""
        article = int(self.article_of[row])
        first, end = self.article_first[article], self.article_first[article + 1]
        return np.arange(self.sentence_first[first], self.sentence_first[end], dtype=np.int64)

    def sentence_cosines(self, sentence: int, others: npt.NDArray[np.int64]) -> FloatArray:
        """The cosines of sentence ``sentence`` with the sentences ``others`` (index rows)."""
        vectors = self.sentence_vectors_at(np.append(others, sentence))
        cosines: FloatArray = (vectors[:-1] @ vectors[-1]).astype(np.float64)
        return cosines

    def cosines(self, sentences: npt.NDArray[np.int64], vector: Vectors) -> FloatArray:
        """The cosines of the sentences ``sentences`` (index rows) with a question's vector."""
        result: FloatArray = (self.sentence_vectors_at(sentences) @ vector).astype(np.float64)
        return result

    def sentence_vectors_at(self, sentences: npt.NDArray[np.int64]) -> Vectors:
        """The vectors of the sentences ``sentences`` (index rows)."""
        assert self.sentence_vectors is not None
        return self.sentence_vectors[sentences]

    def similarities(self, vector: Vectors) -> tuple[FloatArray, FloatArray] | None:
        """Every passage's and every sentence's cosine with ``vector`` (None without vectors)."""
        if self.passage_vectors is None or self.sentence_vectors is None:
            return None
        return (
            (self.passage_vectors @ vector).astype(np.float64),
            (self.sentence_vectors @ vector).astype(np.float64),
        )

    def passage_has(self, row: int, terms: Iterable[str]) -> set[str]:
        """Those of ``terms`` that passage ``row`` has (its title's included), read from the index:
        a saved library tokenizes a passage again to list its terms (0.3 ms each)."""
        at = np.array([row])
        return {t for t in terms if self.index.matched_weight_at({t: 1.0}, at)[0]}

    def sentence_text(self, sentence: int) -> str:
        """The text of sentence-index row ``sentence``."""
        row = int(self.sentence_passage[sentence])
        text = self.passages[row].text
        start, end = sentence_spans(text)[sentence - int(self.sentence_first[row])]
        return text[start:end]

    def _query(self, query_terms: Sequence[str]) -> Query:
        """Already tokenized query terms as the lexical evidence weighs them, before feedback."""
        terms = Counter(query_terms)
        latin = bool(terms) and not any(is_cjk(t) for t in terms)
        return Query(
            terms=terms,
            pairs=Counter(term_pairs(query_terms)),
            mass={t: self.index.term_idf(t) ** 2 for t in terms} if latin else None,
        )

    def scores(self, query_terms: Sequence[str], form: Form | None = None) -> FloatArray:
        """Every passage's score for already tokenized query terms, feedback included.

        ``form`` is the form of the answer the question asks for
        (:func:`bot.core.forms.answer_form`). Every passage is scored: :meth:`evidence` scores
        only those that can rank, and gives them these scores bit for bit.
        """
        return self._lexical(query_terms, form, articles=0, passages=0, prune=False)[1].values

    def evidence(
        self,
        query_terms: Sequence[str],
        form: Form | None = None,
        vector: Vectors | None = None,
        *,
        k: int = 10,
    ) -> Evidence:
        """The lexical, semantic and fused scores of the passages that can rank for a question.

        ``vector`` is the question's embedding (:meth:`encode_query`); without it, or without a
        semantic stage, the fused score is the lexical one, and the passages are those worth
        scoring to find the ``k`` best articles, ``best_per_article(evidence.fused, k,
        evidence.rows)`` (every passage in a small library; see :mod:`bot.core.pruning`). With
        it, they are the fusion's candidates: the ``FUSION_DEPTH`` best by each stage.
        """
        similarities = None if vector is None else self.similarities(vector)
        if similarities is None:
            _, scored = self._lexical(query_terms, form, articles=k, passages=0)
            return Evidence(scored.rows, scored.values, None, None, scored.values)
        query, scored = self._lexical(query_terms, form, articles=0, passages=FUSION_DEPTH)
        passage, sentence_sims = similarities
        sentence = self._best_sentence(sentence_sims, empty=-1.0)
        dense = (passage + sentence) / 2
        live = (
            np.arange(dense.size)
            if self.removed_rows is None
            else np.flatnonzero(~self.removed_rows)
        )
        closest = (
            live[np.argpartition(-dense[live], FUSION_DEPTH)[:FUSION_DEPTH]]
            if live.size > FUSION_DEPTH
            else live
        )
        best = scored.rows[[i for i, _ in top_k(scored.values, FUSION_DEPTH)]]
        candidates = np.union1d(best, closest).astype(np.int64)
        lexical = self._lexical_of(query, scored, candidates)
        fused = np.zeros(candidates.size)
        if candidates.size:
            top = float(lexical.max())
            lexical_part = lexical / top if top > 0 else 0.0
            semantic_part = (_min_max(passage[candidates]) + _min_max(sentence[candidates])) / 2
            share = LONG_LEXICAL_SHARE if query.long else LEXICAL_SHARE
            # A small floor keeps every candidate above the passages that are none.
            fused = 1e-6 + share * lexical_part + (1 - share) * semantic_part
        return Evidence(
            candidates, lexical, passage[candidates], sentence[candidates], fused, sentence_sims
        )

    def _lexical(
        self,
        query_terms: Sequence[str],
        form: Form | None,
        *,
        articles: int,
        passages: int,
        prune: bool = True,
    ) -> tuple[Query, Scored]:
        """The query with feedback's terms, and the lexical scores of the passages worth scoring
        to read the ``articles`` best articles' best passages and the ``passages`` best passages
        (:mod:`bot.core.pruning`); without ``prune``, or in a small library, of every passage."""
        query = self._query(query_terms)
        formed = form is not None and query.mass is not None
        # Feedback reads the best articles, the form's bonus the best passages.
        depth = max(articles, passages, FEEDBACK_ARTICLES * query.long, FORM_DEPTH * formed)
        # The best sentences are read when a sentence's evidence counts.
        sentences = query.mass is not None and bool(self.sentence_weight or self.sentence_coverage)
        rows = candidates(self, query.terms, sentences=sentences, depth=depth) if prune else None
        if rows is None:
            scored = Scored(np.arange(len(self.passages)), self._lexical_scores(query))
        else:
            scored = Scored(rows, self._lexical_scores(query, rows))
        if query.long:
            best = self.best_per_article(scored.values, FEEDBACK_ARTICLES, scored.rows)
            lent = self._feedback_terms(best, set(query.terms))
            # Weighed so that all lent terms together count FEEDBACK_WEIGHT of the query's terms.
            total = sum(lent.values())
            if total > 0:
                scale = FEEDBACK_WEIGHT * query.latin_terms / total
                query = replace(query, lent={t: w * scale for t, w in lent.items()})
                # The lent terms reorder the articles the question found: the same candidates.
                scored = Scored(scored.rows, scored.values + self._term_scores(query.lent, rows))
        if form is not None and query.mass is not None:
            scored = self._form_evidence(form, query.mass, scored)
        return query, scored

    def _lexical_of(self, query: Query, scored: Scored, rows: npt.NDArray[np.int64]) -> FloatArray:
        """The lexical scores of ``rows`` (ascending): ``scored``'s where it has them, the others
        scored now (below the best passages, they get no bonus for the answer's form)."""
        values = np.zeros(rows.size)
        known = np.zeros(rows.size, dtype=bool)
        if scored.rows.size:
            at = np.minimum(np.searchsorted(scored.rows, rows), scored.rows.size - 1)
            known = scored.rows[at] == rows
            values[known] = scored.values[at[known]]
        if not known.all():
            values[~known] = self._lexical_scores(query, rows[~known])
        return values

    def _lexical_scores(
        self, query: Query, rows: npt.NDArray[np.int64] | None = None
    ) -> FloatArray:
        """Every passage's lexical score for ``query``, or the scores of passages ``rows``
        (ascending) only, bit for bit the same: feedback's lent terms included, not the form's
        bonus (see the module's docstring)."""
        scores = self._term_scores(query.terms, rows)
        if self.pair_weight:
            scores += self.pair_weight * _weighted(self.pair_index, query.pairs, rows)
        if query.mass is not None:
            scores = self._sentence_evidence(query.terms, query.mass, scores, rows)
        if query.lent:
            scores += self._term_scores(query.lent, rows)
        return scores

    def _term_scores(
        self, query: Mapping[str, float], rows: npt.NDArray[np.int64] | None
    ) -> FloatArray:
        """Passage BM25 mixed with each passage's article BM25, for weighted single terms."""
        scores = _weighted(self.index, query, rows)
        if self.article_weight:
            if rows is None:
                articles = self.article_index.weighted_scores(query)[self.article_of]
            else:
                # Rows ascending, their articles too: each article is scored once.
                owners = self.article_of[rows]
                first = run_starts(owners)
                found = self.article_index.weighted_scores_at(query, owners[first])
                articles = found[np.cumsum(first) - 1]
            scores = (1.0 - self.article_weight) * scores + self.article_weight * articles
        return scores

    def _sentence_evidence(
        self,
        query: Mapping[str, float],
        mass: Mapping[str, float],
        scores: FloatArray,
        rows: npt.NDArray[np.int64] | None,
    ) -> FloatArray:
        """``scores`` (of every passage, or of ``rows``) with the evidence of each passage's best
        sentence for a Latin-script query; ``mass`` is each query term's idf²."""
        if rows is None:
            share = self.sentence_index.matched_weight(mass) / sum(mass.values())
            best = self._best_of_sentences_with(share)
            sentences = None
        else:
            first, end = self.sentence_first[rows], self.sentence_first[rows + 1]
            sentences = ranges(first, end)
            share = self.sentence_index.matched_weight_at(mass, sentences) / sum(mass.values())
            best = _best_of_runs(end - first)
        if self.sentence_weight:
            sentence_scores = _weighted(self.sentence_index, query, sentences)
            scores = scores + self.sentence_weight * best(sentence_scores)
        if self.sentence_coverage:
            scores = scores * (1.0 - self.sentence_coverage + self.sentence_coverage * best(share))
        return scores

    def _best_of_sentences_with(self, share: FloatArray) -> Callable[[FloatArray], FloatArray]:
        """A function giving each passage's largest value of the sentences that have a question
        term (those with some ``share``), 0 for a passage without any.

        Few sentences have a question's words, and Lucene's BM25 scores and the shares are never
        negative, so only those sentences are read: a passage's sentences are a run of the
        sentence index, and one ``reduceat`` over the runs among them takes every maximum at once.
        Reading every sentence took a third of a question's time at 959k passages (2.6M
        sentences), finding them once instead of per value another tenth. Okapi's idf may be
        negative: then every sentence is read (:meth:`_best_sentence`).
        """
        if self.variant != "lucene":
            return self._best_sentence
        found = np.flatnonzero(share)
        rows = self.sentence_passage[found]
        runs = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if found.size else found
        passages = rows[runs]

        def best(values: FloatArray) -> FloatArray:
            result = np.zeros(len(self.passages))
            if found.size:
                result[passages] = np.maximum.reduceat(values[found], runs)
            return result

        return best

    def _form_evidence(self, form: Form, mass: Mapping[str, float], scored: Scored) -> Scored:
        """``scored`` with a bonus for the best passages whose best sentence has the answer's form.

        Only the ``FORM_DEPTH`` best are read, sentence by sentence: further down, a passage has
        too little of the question for the form of its sentences to matter. A passage's best
        sentence is the one with the largest share of the question's ``mass`` (the first of
        equals).
        """
        best = top_k(scored.values, FORM_DEPTH)
        if not best:
            return scored
        # Their sentences' shares, read in row order (as an index reads rows).
        rows = np.sort(scored.rows[[i for i, _ in best]])
        first, end = self.sentence_first[rows], self.sentence_first[rows + 1]
        share = self.sentence_index.matched_weight_at(mass, ranges(first, end))
        share /= sum(mass.values())
        counts = end - first
        starts = np.cumsum(counts) - counts
        values = scored.values.copy()
        for i, _ in best:
            row = int(scored.rows[i])
            place = int(np.searchsorted(rows, row))
            start, count = int(starts[place]), int(counts[place])
            if not count:
                continue
            # Spans are found again rather than kept: ten passages' worth costs less than
            # holding two offsets for every sentence of the library.
            text = self.passages[row].text
            begin, stop = sentence_spans(text)[int(np.argmax(share[start : start + count]))]
            if form.shown_in(text[begin:stop]):
                values[i] += FORM_WEIGHT * best[0][1]
        return Scored(scored.rows, values)

    def _best_sentence(self, sentence_values: FloatArray, empty: float = 0.0) -> FloatArray:
        """Each passage's largest value of ``sentence_values`` (``empty`` for one without any).

        A passage's sentences are a run of the sentence index, so one ``reduceat`` over the runs'
        starts takes every maximum at once.
        """
        best = np.full(len(self.passages), empty)
        starts = self.sentence_first[:-1]
        filled = starts < self.sentence_first[1:]
        if filled.any():
            best[filled] = np.maximum.reduceat(sentence_values, starts[filled])
        return best

    def _feedback_terms(self, best: Sequence[Hit], query: set[str]) -> dict[str, float]:
        """The terms the ``best`` articles (by their best passage) lend a query, with RM3's
        weights (before scaling).

        An article's term weighs its share of the article's terms times the article's share of
        the feedback articles' scores. Of the terms not in the query, those weighing most times
        their idf are lent: a word that every article uses says nothing about the topic.
        """
        total = sum(hit.score for hit in best)
        weights: dict[str, float] = {}
        for hit in best:
            counts = self.article_terms[int(self.article_of[hit.row])]
            length = counts.total()
            for term, count in counts.items():
                if term not in query:
                    weights[term] = weights.get(term, 0.0) + count / length * hit.score / total
        chosen = sorted(weights, key=lambda t: -weights[t] * self.index.term_idf(t))
        return {t: weights[t] for t in chosen[:FEEDBACK_TERMS]}

    def passage_hits(
        self, query_terms: Sequence[str], k: int, form: Form | None = None
    ) -> list[Hit]:
        """Return the ``k`` best passages for already tokenized query terms."""
        _, scored = self._lexical(query_terms, form, articles=0, passages=k)
        best = [(int(scored.rows[i]), score) for i, score in top_k(scored.values, k)]
        return [Hit(self.passages[row], score, row) for row, score in best]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Return the best passage of each of the ``k`` best matching articles, best first."""
        evidence = self.evidence(tokenize(query), answer_form(query), self.encode_query(query), k=k)
        return self.best_per_article(evidence.fused, k, evidence.rows)

    def best_per_article(
        self, scores: FloatArray, k: int = 10, rows: npt.NDArray[np.int64] | None = None
    ) -> list[Hit]:
        """The best-scoring passage of each of the ``k`` best articles by ``scores``, best first.

        ``scores`` are those of the passages ``rows`` (ascending), or of every passage when
        ``rows`` is None. Best first, ties by position; an article's first passage in that order
        is its best. Only the passages scoring at least the ``depth``-th best are sorted,
        ``depth`` growing fourfold until they hold ``k`` articles: sorting every matched passage
        (most of a large corpus for a question with a common word) took a tenth of a question's
        time at 192k passages.
        """
        if k <= 0:
            return []
        matched = np.flatnonzero(scores > 0)
        depth = BEST_DEPTH * k
        while True:
            if depth < matched.size:
                kth = np.partition(scores[matched], matched.size - depth)[matched.size - depth]
                top = matched[scores[matched] >= kth]
            else:
                top = matched
            hits: list[Hit] = []
            seen: set[int] = set()
            for i in top[np.lexsort((top, -scores[top]))].tolist():
                row = i if rows is None else int(rows[i])
                article = int(self.article_of[row])
                if article not in seen:
                    seen.add(article)
                    hits.append(Hit(self.passages[row], float(scores[i]), row))
                    if len(hits) == k:
                        return hits
            if top.size == matched.size:
                return hits
            depth *= 4


def _articles_indexed(
    articles: Sequence[Article],
    title_terms: Mapping[str, list[str]],
    config: LibraryConfig,
    progress: bool,
) -> tuple[BM25Index, ArticleTerms]:
    """The article index of ``articles``, and each one's term counts (title included once: what
    feedback reads as its language), tokenized ``BUILD_CHUNK`` articles at a time.

    The article index counts the title ``title_weight`` times.
    """
    builder = IndexBuilder()
    numbers, counts, sizes = [], [], []
    for some in _chunks(articles, "tokenizing articles", progress):
        counted = [Counter(title_terms[a.id] + tokenize(a.text)) for a in some]
        builder.add(
            [
                title_terms[a.id] * (config.title_weight - 1) + list(terms.elements())
                for a, terms in zip(some, counted, strict=True)
            ]
        )
        numbers.append(builder.numbers(t for terms in counted for t in terms))
        counts.append(np.fromiter((n for terms in counted for n in terms.values()), np.int32))
        sizes.append(np.fromiter(map(len, counted), dtype=np.int64, count=len(counted)))
    article_index, rows = builder.build(k1=config.k1, b=config.b, variant=config.variant)
    terms = ArticleTerms(
        article_index,
        np.cumsum(_joined(sizes, np.int64)),
        rows[_joined(numbers, np.int32)],
        _joined(counts, np.int32),
    )
    return article_index, terms


def _chunks(items: Sequence[T], label: str, show: bool) -> Iterator[Sequence[T]]:
    """``items`` ``BUILD_CHUNK`` at a time, with a progress bar of them when ``show`` (and they
    are many)."""
    bar = Progress(len(items), label) if show and len(items) >= PROGRESS_FROM else None
    for start in range(0, len(items), BUILD_CHUNK):
        yield items[start : start + BUILD_CHUNK]
        if bar is not None:
            bar.advance(min(len(items), start + BUILD_CHUNK) - bar.done)


def _joined(arrays: Sequence[npt.NDArray[Any]], dtype: type[np.integer[Any]]) -> npt.NDArray[Any]:
    """``arrays`` one after the other, of ``dtype`` (empty for none)."""
    return np.concatenate([np.zeros(0, dtype=dtype), *arrays])


def _weighted(
    index: TermIndex, query: Mapping[str, float], rows: npt.NDArray[np.int64] | None
) -> FloatArray:
    """``index``'s scores of every row for ``query``, or of ``rows`` only."""
    if rows is None:
        return index.weighted_scores(query)
    return index.weighted_scores_at(query, rows)


def _best_of_runs(counts: npt.NDArray[np.int64]) -> Callable[[FloatArray], FloatArray]:
    """A function giving each run's largest value (0 for an empty run) of values that are runs
    of ``counts`` consecutive values: the best sentence of each of some passages.

    For Lucene's scores and shares, never negative, this is what
    :meth:`Library._best_of_sentences_with` gives the same passages, and Okapi's
    :meth:`Library._best_sentence` too.
    """
    filled = counts > 0
    starts = (np.cumsum(counts) - counts)[filled]

    def best(values: FloatArray) -> FloatArray:
        result = np.zeros(counts.shape[0])
        if starts.size:
            result[filled] = np.maximum.reduceat(values, starts)
        return result

    return best


def _min_max(values: FloatArray) -> FloatArray:
    """``values`` scaled to 0 (the least) to 1 (the most); all 1 when they are equal."""
    low, high = float(values.min()), float(values.max())
    if high - low <= 0:
        return np.ones_like(values)
    scaled: FloatArray = (values - low) / (high - low)
    return scaled


def term_pairs(terms: Sequence[str]) -> list[str]:
    """The adjacent pairs of Latin-script terms, each as one term ("boundari layer").

    Terms are adjacent after stopwords are dropped, so "layer of the boundary" pairs "layer" and
    "boundari". A pair never involves a CJK term: CJK bigrams already capture adjacency.
    """
    return [
        f"{first} {second}"
        for first, second in pairwise(terms)
        if not is_cjk(first) and not is_cjk(second)
    ]
