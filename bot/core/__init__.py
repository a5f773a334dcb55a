"""The answering core: text analysis, corpus and passages, the BM25 index, the semantic stage, the
library that ranks passages, and the composition of answers.

Plain synchronous Python: nothing here imports ``telegram`` or ``asyncio``, so the console, the
evaluation and the tests use exactly what the bot uses.
"""
