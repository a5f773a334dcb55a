"""A stand-in for the embedding model: deterministic, fast, and counting what it embeds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from bot.core.analysis import tokenize
from bot.core.semantic import Vectors

DIM = 64


class BagOfWords:
    """Embeds a text as its hashed bag of terms, normalised: texts sharing terms are close.

    ``synonyms`` maps a term to the term it stands for, so that a test can say which words
    "mean the same" without a model. ``embedded`` and ``asked`` list the passage and question
    texts it was given. ``background`` is the text whose vector stands for text in general,
    and ``min_standout`` and ``least_standout`` the least standouts of an answer (see
    :class:`bot.core.semantic.Embedder`): by default nothing is declined for
    standing out too little.
    """

    name = "bag-of-words"
    dim = DIM

    def __init__(
        self,
        synonyms: dict[str, str] | None = None,
        *,
        background: str = "",
        min_standout: float = -1.0,
        least_standout: float = -1.0,
    ) -> None:
        self.synonyms = synonyms or {}
        self.embedded: list[str] = []
        self.asked: list[str] = []
        self._background = (
            self._encode([background])[0] if background else np.zeros(DIM, np.float32)
        )
        self._min_standout = min_standout
        self._least_standout = least_standout

    def queries(self, texts: Sequence[str]) -> Vectors:
        self.asked.extend(texts)
        return self._encode(texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        self.embedded.extend(texts)
        return self._encode(texts)

    def min_cosine(self, *, cjk: bool) -> float:
        del cjk  # any shared term will do, in either script
        return 0.0

    @property
    def background(self) -> Vectors:
        return self._background

    @property
    def min_standout(self) -> float:
        return self._min_standout

    @property
    def least_standout(self) -> float:
        return self._least_standout

    def _encode(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in tokenize(text):
                term = self.synonyms.get(term, term)
                slot = int.from_bytes(hashlib.sha256(term.encode()).digest()[:4], "little") % DIM
                vectors[row, slot] += 1.0
            norm = float(np.linalg.norm(vectors[row]))
            vectors[row] = vectors[row] / norm if norm else 1.0 / np.sqrt(DIM)
        return vectors
