"""Test harness: a fake Telegram Bot API (in-process request and local HTTP server)."""
