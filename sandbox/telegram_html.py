"""Telegram's ``parse_mode=HTML``, as the Bot API applies it: the message keeps the plain text and
its formatting as entities (offsets and lengths in UTF-16 code units), and a tag Telegram does
not support is refused with "can't parse entities". So a client that rebuilds the HTML from a
message (PTB's ``Message.text_html``) gets back what was sent, as it does from Telegram."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

__all__ = ["EntityError", "parse_html", "utf16_len"]

_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
}


class EntityError(ValueError):
    """The text is not HTML Telegram accepts; the message is the Bot API's description."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts text and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, int, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TYPES:
            raise EntityError(f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"')
        entity: dict[str, Any] = {"type": _TYPES[tag]}
        if tag == "a":
            entity["url"] = dict(attrs).get("href") or ""
        self._open.append((tag, utf16_len(self.text), entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            raise EntityError(f'Bad Request: can\'t parse entities: Unmatched end tag "{tag}"')
        _, start, entity = self._open.pop()
        length = utf16_len(self.text) - start
        if length:
            self.entities.append({**entity, "offset": start, "length": length})

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_html(html_text: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and entities of a Bot API HTML text; EntityError when Telegram refuses it."""
    parser = _Parser()
    parser.feed(html_text)
    parser.close()
    if parser._open:
        tag = parser._open[-1][0]
        raise EntityError(f'Bad Request: can\'t parse entities: Unclosed start tag "{tag}"')
    return parser.text, sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
