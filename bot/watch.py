"""Watching the corpus folder: which files were added, edited or deleted since the last look.

Each look lists the corpus files and hashes their content (SHA-256); only a file whose hash
changed is parsed again, so an edit costs one file's parsing, and a file merely touched (saved
unchanged, copied over with the same content) costs nothing. The watcher remembers which article
ids each file gave, since a deleted or edited file must take its old articles away (a ``.jsonl``
file gives many, with ids of their own).

The first look has nothing to compare with: it parses every file and reports the whole folder, so
whatever changed between the bot's start and that look is caught up. What the folder walk could not
follow (an unreadable folder, a broken link, a link loop) is reported once, when first seen, not
at every look.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.core.corpus import Article, Problem, corpus_files, load_files


@dataclass(frozen=True, slots=True)
class FolderChange:
    """What a look found: the articles of the new and edited files, and the ids they may replace.

    ``scope`` holds the ids the changed and deleted files gave before; None after the first look,
    which read the whole folder.
    """

    articles: tuple[Article, ...]
    scope: frozenset[str] | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class _File:
    digest: str
    ids: frozenset[str]


class CorpusWatcher:
    """Looks at the corpus at ``path`` (a folder or a single file) for changed content."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._files: dict[Path, _File] | None = None
        self._unfollowed: frozenset[Problem] = frozenset()

    def look(self) -> FolderChange | None:
        """What changed since the last look; None if nothing did. Blocking: run it in a thread."""
        root, files, unfollowed = corpus_files(self.path)
        problems = [p for p in unfollowed if p not in self._unfollowed]
        self._unfollowed = frozenset(unfollowed)
        digests = {f: d for f in files if (d := _digest(f)) is not None}
        first = self._files is None
        known = self._files or {}
        changed = [f for f, d in digests.items() if first or f not in known or known[f].digest != d]
        deleted = [f for f in known if f not in digests]
        if not changed and not deleted:
            return FolderChange((), frozenset(), tuple(problems)) if problems else None
        articles: list[Article] = []
        state = {f: known[f] for f in digests if f in known}
        for file in changed:
            loaded = load_files(root, [file])
            articles += loaded.articles
            problems += loaded.problems
            state[file] = _File(digests[file], frozenset(a.id for a in loaded.articles))
        scope = None
        if not first:
            scope = frozenset(i for f in [*changed, *deleted] if f in known for i in known[f].ids)
        self._files = state
        return FolderChange(tuple(articles), scope, tuple(problems))


def _digest(path: Path) -> str | None:
    """The file's content hash; None for a file that vanished or can't be read meanwhile."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
