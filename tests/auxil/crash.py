"""Run the bot's command line, dying at a chosen point of storing a channel post.

``python -m tests.auxil.crash before|after ARGS...`` runs ``announcements-bot ARGS...`` with
``Store.save_article`` ending the process (``os._exit``: no clean-up, as in a crash) just before
or just after it stores the first article.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from bot.__main__ import main
from bot.core.corpus import Article
from bot.store import Store

CRASH_EXIT = 17


def _install(point: str) -> None:
    save = Store.save_article

    def crashing_save(self: Store, article: Article, *, origin: str) -> Any:
        if point == "before":
            os._exit(CRASH_EXIT)
        changed = save(self, article, origin=origin)
        os._exit(CRASH_EXIT)
        return changed  # never reached

    Store.save_article = crashing_save  # type: ignore[method-assign]


if __name__ == "__main__":
    _install(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
