"""What a chat subscribes to: a parsed :class:`Topic`, and :class:`TopicError` for one that
cannot be used."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALL", "MAX_TOPIC_CHARS", "MAX_TOPIC_WORDS", "Topic", "TopicError"]

#: Longest topic a user may type, in characters and in words.
MAX_TOPIC_CHARS = 100
MAX_TOPIC_WORDS = 8


class TopicError(ValueError):
    """A topic the user typed cannot be used; the message is written for that user."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed subscription topic.

    ``include`` holds normalised words or phrases (phrases contain spaces) that must all occur;
    ``exclude`` words or phrases that must not. ``key`` is the canonical text stored in the
    database and shown back: ``parse(topic.key) == topic`` for any parsed topic.
    """

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    key: str

    def __str__(self) -> str:
        return self.key


#: The topic of a subscription to every release (stored as the empty key).
ALL = Topic((), (), "")
