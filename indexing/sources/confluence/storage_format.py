"""Confluence storage format (XHTML with `ac:`/`ri:` elements) → clean Markdown text.

The common macros are rewritten into plain HTML first (code → <pre>, info/note/warning/tip
panels → a labelled block quote, expand → its title and body, table of contents → nothing,
`ac:link` → the linked page's title), then markdownify turns the HTML into Markdown that
keeps headings, lists, tables and code blocks for the chunker.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from markdownify import markdownify

PANELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
DROPPED_MACROS = {"toc", "toc-zone", "children", "pagetree", "recently-updated", "anchor"}
DROPPED_ELEMENTS = ["ac:image", "ac:emoticon", "ac:placeholder", "ac:inline-comment-marker"]


def _parameter(macro: Tag, name: str) -> str:
    for param in macro.find_all("ac:parameter", recursive=False):
        if param.get("ac:name") == name:
            return param.get_text(strip=True)
    return ""


def _new(soup: BeautifulSoup, name: str, text: str | None = None, **attrs: str) -> Tag:
    tag = soup.new_tag(name, attrs=attrs)
    if text is not None:
        tag.string = text
    return tag


def _body(macro: Tag) -> Tag | None:
    return macro.find("ac:rich-text-body", recursive=False)


def _rewrite_macro(soup: BeautifulSoup, macro: Tag) -> None:
    name = str(macro.get("ac:name", "")).lower()
    if name in DROPPED_MACROS:
        macro.decompose()
        return
    if name in ("code", "noformat"):
        plain = macro.find("ac:plain-text-body", recursive=False)
        language = _parameter(macro, "language")
        pre = _new(soup, "pre")
        code = _new(soup, "code", plain.get_text() if plain else "")
        if language:
            code["class"] = f"language-{language}"
        pre.append(code)
        macro.replace_with(pre)
        return
    body = _body(macro)
    block = _new(soup, "div")
    if name in PANELS:
        label = PANELS[name]
        title = _parameter(macro, "title")
        heading = ": ".join(part for part in (label, title) if part)
        quote = _new(soup, "blockquote")
        if heading:
            quote.append(_new(soup, "p", f"{heading}:" if not title else heading))
        if body is not None:
            quote.extend(list(body.contents))
        block.append(quote)
    elif name == "expand":
        title = _parameter(macro, "title") or "Details"
        block.append(_new(soup, "p", title))
        if body is not None:
            block.extend(list(body.contents))
    elif body is not None:  # any other macro with a body: keep its content
        block.extend(list(body.contents))
    macro.replace_with(block)


def _rewrite_link(soup: BeautifulSoup, link: Tag) -> None:
    """`ac:link` → its link text, or the target page/attachment/space title."""
    body = link.find(["ac:link-body", "ac:plain-text-link-body"])
    text = body.get_text(" ", strip=True) if body else ""
    if not text:
        target = link.find(["ri:page", "ri:attachment", "ri:space", "ri:blog-post"])
        if target is not None:
            text = str(
                target.get("ri:content-title")
                or target.get("ri:filename")
                or target.get("ri:space-key")
                or ""
            )
    # A user mention (ri:user) carries an account id, not a name: drop it.
    link.replace_with(text)


def _rewrite_tasks(soup: BeautifulSoup, tasks: Tag) -> None:
    items = _new(soup, "ul")
    for task in tasks.find_all("ac:task", recursive=False):
        status = task.find("ac:task-status")
        body = task.find("ac:task-body")
        done = status is not None and status.get_text(strip=True) == "complete"
        item = _new(soup, "li", f"[{'x' if done else ' '}] ")
        if body is not None:
            item.extend(list(body.contents))
        items.append(item)
    tasks.replace_with(items)


def storage_to_markdown(storage: str) -> str:
    """Clean Markdown text of a page body in storage format."""
    soup = BeautifulSoup(storage, "html.parser")
    for name in DROPPED_ELEMENTS:
        for tag in soup.find_all(name):
            tag.decompose()
    # Innermost macros first, so a code block inside an expand is rewritten before its parent.
    for macro in reversed(soup.find_all("ac:structured-macro")):
        _rewrite_macro(soup, macro)
    for link in soup.find_all("ac:link"):
        _rewrite_link(soup, link)
    for tasks in soup.find_all("ac:task-list"):
        _rewrite_tasks(soup, tasks)
    for leftover in soup.find_all(lambda t: ":" in t.name):
        leftover.unwrap()  # any other ac:/ri: element: keep its text only
    markdown = markdownify(
        str(soup),
        heading_style="ATX",
        bullets="-",
        code_language_callback=_code_language,
    )
    lines = [line.rstrip() for line in markdown.splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def _code_language(element: Tag) -> str | None:
    code = element.find("code")
    classes = code.get("class") if isinstance(code, Tag) else None
    for cls in classes or []:
        if str(cls).startswith("language-"):
            return str(cls).removeprefix("language-")
    return None
