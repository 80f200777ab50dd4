"""An answer's Markdown made safe to post: formatting stays, nothing in it can act.

Answers quote documents, and a document may hold anything: `[Re-authenticate](https://evil)`,
`<!channel>`, `<@U123>`, `<img src=…>`. Slack's `markdown` block and Teams both render
Markdown, so the answer is parsed (CommonMark, markdown-it) and written back (mdformat) with
every link, image and piece of HTML disarmed:

- a link becomes its label and its address as code: `label (`https://…`)`; an image its
  alt text; a bare address code (code is never turned into a link);
- HTML, inline or as a block, is shown as text or as a code block;
- `<`, `>` and `&` in text go out as entities (`&lt;`): shown as written by a Markdown
  renderer and by Slack's mrkdwn alike, so `<!channel>` can never form a mention; in code
  (where entities would show as written) a zero-width space after the `<` of what Slack would
  read as a mention (`<!here>`, `<@U…>`, `<#C…>`, `<!subteam^…>`) does the same.

Headings, emphasis, lists, quotes and code blocks (with their lines) stay as they are, and
so do the `[n]` citation markers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdformat.renderer import MDRenderer

_PARSER = MarkdownIt("commonmark")
_ADDRESS = re.compile(r"\b(?:https?|ftp|file|mailto):[^\s<>`]+|\bwww\.[^\s<>`]+", re.I)
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_SPECIAL = re.compile("[<>&]")
_TRAILING = ".,;:!?)'\""  # ends a sentence, not an address
_SLACK_MENTION = re.compile(r"<(?=!(?:here|channel|everyone|subteam\^)|[@#][UWCGS][A-Z0-9])", re.I)


def safe_markdown(text: str) -> str:
    """`text` (Markdown) with its formatting and nothing that links, mentions or runs."""
    tokens = []
    for token in _PARSER.parse(text):
        if token.type == "html_block":
            token = _code_block(token.content)
        if token.type in ("fence", "code_block"):
            token.content = _SLACK_MENTION.sub("<\u200b", token.content)
        elif token.type == "inline" and token.children is not None:
            token.children = list(_disarmed(token.children))
        tokens.append(token)
    rendered: str = MDRenderer().render(tokens, {"parser_extension": [], "mdformat": {}}, {})
    return rendered.strip()


def plain_text(text: str) -> str:
    """`text` (Markdown) as the words a reader sees, for notifications and previews."""
    lines = []
    for token in _PARSER.parse(text):
        if token.type in ("fence", "code_block", "html_block"):
            lines.append(token.content.strip())
        elif token.type == "inline" and token.children is not None:
            lines.append("".join(_words(token.children)))
    return "\n".join(line for line in lines if line)


def _words(children: list[Token]) -> Iterator[str]:
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            yield child.content
        elif child.type == "image":
            yield child.content  # its alt text
        elif child.type in ("softbreak", "hardbreak"):
            yield " "


def _disarmed(children: list[Token]) -> Iterator[Token]:
    links: list[str] = []  # the addresses of the links being read, innermost last
    in_autolink = False  # <https://…>: the address is its own label
    for child in children:
        if child.type == "link_open":
            address = str(child.attrGet("href") or "")
            in_autolink = child.markup == "autolink"
            if in_autolink:
                yield _code(address)
            else:
                links.append(address)
        elif child.type == "link_close":
            if in_autolink:
                in_autolink = False
            elif address := links.pop():
                yield from _text(" (")
                yield _code(address)
                yield from _text(")")
        elif in_autolink:
            continue
        elif child.type in ("text", "html_inline", "image"):  # an image: its alt text
            yield from _text(child.content)
        elif child.type == "code_inline":
            yield _code(child.content)
        else:
            yield child


def _text(content: str) -> Iterator[Token]:
    """Text as tokens: bare addresses as code, `<`, `>`, `&` as entities, the rest as text."""
    last = 0
    for match in _ADDRESS.finditer(content):
        address = match.group(0).rstrip(_TRAILING)
        yield from _plain(content[last : match.start()])
        yield _code(address)
        last = match.start() + len(address)
    yield from _plain(content[last:])


def _plain(content: str) -> Iterator[Token]:
    last = 0
    for match in _SPECIAL.finditer(content):
        if match.start() > last:
            yield Token("text", "", 0, content=content[last : match.start()])
        # html_inline is written out as it is: the entity, never the character.
        yield Token("html_inline", "", 0, content=_ENTITIES[match.group(0)])
        last = match.end()
    if last < len(content):
        yield Token("text", "", 0, content=content[last:])


def _code(content: str) -> Token:
    return Token(
        "code_inline", "code", 0, content=_SLACK_MENTION.sub("<\u200b", content), markup="`"
    )


def _code_block(content: str) -> Token:
    """A code block of `content` (its last line ended, so the fence closes on its own)."""
    content = content if content.endswith("\n") else content + "\n"
    return Token("fence", "code", 0, content=content, markup="```", info="", block=True)
