"""The Telegram edge: it turns an ``Update`` into a call of the answering core and a reply.

``app.build_application`` is the one place the bot is wired; handlers reach the core only through
``application.bot_data``.
"""
