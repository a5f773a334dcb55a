"""Embed ``bot/core/background.txt`` into the background vector the model's answerability uses.

    .venv/bin/python scripts/background.py

Run it after editing the text or changing the model; ``tests/test_semantic.py`` checks that the
saved vector and the text agree.
"""

from __future__ import annotations

import numpy as np

from bot.core.semantic import E5_BACKGROUND_FILE, E5Embedder, background_vector


def main() -> None:
    vector = background_vector(E5Embedder(background=None))
    np.save(E5_BACKGROUND_FILE, vector, allow_pickle=False)
    print(f"wrote {E5_BACKGROUND_FILE} (norm {float(np.linalg.norm(vector)):.4f})")


if __name__ == "__main__":
    main()
