"""Where releases come from: files (JSON, JSON Lines, the seed's text listing) and RSS/Atom feeds.

Everything here turns outside data into validated :class:`~bot.releases.Release` records and
reports problems as :class:`SourceError`; it knows nothing of the store or Telegram.
"""

from bot.sources.errors import SourceError
from bot.sources.feeds import FeedFetch, fetch_feed, parse_feed
from bot.sources.files import MAX_FILE_BYTES, load_file, parse_file, read_file
from bot.sources.listing import parse_listing

__all__ = [
    "MAX_FILE_BYTES",
    "FeedFetch",
    "SourceError",
    "fetch_feed",
    "load_file",
    "parse_feed",
    "parse_file",
    "parse_listing",
    "read_file",
]
