"""The keys of ``application.bot_data``: how the Telegram edge reaches the core and the store."""

LIBRARY = "library"  # the served Library, swapped whole on every change
STORE = "store"  # the AsyncStore
CHANNELS = "channels"  # the ChannelList whose posts become announcements
PENDING_POSTS = "pending_posts"  # channel posts being indexed (see handlers.posts_indexed)
