"""Answers as Slack Block Kit, within Slack's limits.

The answer's text goes out as a `markdown` block (standard Markdown, rendered by Slack: code
blocks keep their lines), made safe first (`bot.safe_markdown`: no link, mention or HTML of
a document's own); every payload's `markdown` blocks hold at most 12,000 characters together.
Other text is mrkdwn, escaped (`&`, `<`, `>`) so nothing in a source title can form a mention
or a link; sections hold at most 3,000 characters; a message at most 50 blocks. 👍/👎 are
Slack's own feedback buttons.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from indexing import Answer, VerifiedAnswer, stale_notice, updated_text

from ..more import MORE_LABEL, MORE_OFFER
from ..safe_markdown import plain_text, safe_markdown

SECTION_LIMIT = 3000
MARKDOWN_LIMIT = 12_000  # all `markdown` blocks of one payload together
VERIFIED_LIMIT = 3000  # of those, what a verified answer (at most 3,000 typed) may take
FEEDBACK_ACTION = "answer_feedback"  # the feedback buttons; values "<answer id>:up|down"
BLOCK_LIMIT = 50
FALLBACK_LIMIT = 300
SEARCHING = ":mag: Searching the knowledge base…"

Block = dict[str, Any]


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    if not url.startswith(("http://", "https://", "file://")):
        return escape(label)
    # `|` and `>` end a Slack link: keep them out of the URL.
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return f"<{safe_url.replace('&', '&amp;')}|{escape(label)}>"


def _pieces(text: str, limit: int) -> list[str]:
    """Split at line ends (or hard) into pieces of at most `limit` characters."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current.strip():
        pieces.append(current)
    return pieces


def _sections(mrkdwn: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in _pieces(mrkdwn, SECTION_LIMIT)
    ]


def _markdown(text: str, limit: int) -> list[Block]:
    """`text` (Markdown) as one `markdown` block, cut at a line end to at most `limit`."""
    safe = safe_markdown(text)
    if len(safe) > limit:
        cut = safe.rfind("\n", 0, limit - 1)
        safe = safe[: cut if cut > 0 else limit - 1].rstrip() + "…"
    return [{"type": "markdown", "text": safe}] if safe else []


def answer_blocks(
    answer: Answer,
    answer_id: str,
    shareable: bool = False,
    escalate: bool = False,
    now: datetime | None = None,
    verify: bool = False,
) -> list[Block]:
    """The answer, its sources (each with when and by whom it was last updated), and its
    buttons; `now` (default: the current time) is what ages are counted from. An expert's
    verified answer to the same question comes first; `verify` (an experts group is set)
    offers *Verify* and, on a verified answer, *Withdraw*."""
    now = now or datetime.now(UTC)
    blocks = _verified_blocks(answer.verified, verify) if answer.verified else []
    used = sum(len(b["text"]) for b in blocks if b["type"] == "markdown")
    blocks += _markdown(answer.text, MARKDOWN_LIMIT - used)
    notice = stale_notice(answer, now)
    if notice:
        blocks.append(_context(f":warning: {escape(notice)}"))
    if answer.citations:
        blocks += _sections("*Sources*" if answer.found else "*Closest sources*")
        for c in answer.citations:
            line = f"*[{c.number}]* {_link(c.url, c.label or c.title)}"
            updated = updated_text(c, now)
            if updated:
                mark = ":warning: " if c.stale else ""
                line += f"\n{mark}_{escape(updated)}_"
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": line[:SECTION_LIMIT]},
                    "accessory": _source_menu(answer_id, c.number),
                }
            )
    actions: list[Block] = []
    if shareable:
        actions.append(_button("share_answer", "Share in channel", answer_id, style="primary"))
    if escalate:
        actions.append(_button("escalate", ":ticket: Still need help", answer_id))
    if verify and answer.found and answer.citations:
        actions.append(_button("verify_answer", ":white_check_mark: Verify", answer_id))
    footer = _context(f"Answered from the knowledge base · {escape(answer.generator)}")
    tail = [_feedback(answer_id)]
    if actions:
        tail.append({"type": "actions", "elements": actions})
    tail.append(footer)
    return blocks[: BLOCK_LIMIT - len(tail)] + tail


def _feedback(answer_id: str) -> Block:
    """Slack's feedback buttons: a vote on the answer (pressed again, it is taken back)."""

    def button(text: str, kind: str, label: str) -> Block:
        return {
            "text": {"type": "plain_text", "text": text},
            "value": f"{answer_id}:{kind}",
            "accessibility_label": label,
        }

    element = {
        "type": "feedback_buttons",
        "action_id": FEEDBACK_ACTION,
        "positive_button": button("👍", "up", "Helpful"),
        "negative_button": button("👎", "down", "Not helpful"),
    }
    return {"type": "context_actions", "elements": [element]}


VERIFY_CALLBACK = "verify_answer"  # the modal's callback id


def verify_modal(answer_id: str, channel: str, text: str) -> dict[str, Any]:
    """The modal an expert verifies an answer in, its text ready to edit."""
    return {
        "type": "modal",
        "callback_id": VERIFY_CALLBACK,
        "private_metadata": json.dumps({"answer_id": answer_id, "channel": channel}),
        "title": {"type": "plain_text", "text": "Verify this answer"},
        "submit": {"type": "plain_text", "text": "Verify"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": {"type": "plain_text", "text": "The answer people will get first"},
                "hint": {
                    "type": "plain_text",
                    "text": "Edit it if needed. Its sources stay, and decide who may see it.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "max_length": 3000,
                    "initial_value": text[:3000],
                },
            }
        ],
    }


def more_offer_blocks(answer_id: str) -> list[Block]:
    """What only the asker sees under a channel answer when they may read more: the offer of
    a private answer (it names no source: it only says there is more)."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": MORE_OFFER}},
        {"type": "actions", "elements": [_button("more_answer", MORE_LABEL, answer_id)]},
    ]


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def _verified_blocks(verified: VerifiedAnswer, verify: bool) -> list[Block]:
    """The verified answer, first: who verified it and when, its text and its sources."""
    header = (
        f":white_check_mark: *Verified by {escape(verified.verified_by)} on "
        f"{verified.verified_at:%Y-%m-%d}*"
    )
    blocks = _sections(header) + _markdown(verified.text, VERIFIED_LIMIT)
    for c in verified.citations:
        blocks.append(_context(f"*[{c.number}]* {_link(c.url, c.label or c.title)}"))
    if verify:
        withdraw = _button("withdraw_verified", "Withdraw verification", verified.id)
        blocks.append({"type": "actions", "elements": [withdraw]})
    return [*blocks, {"type": "divider"}]


def _source_menu(answer_id: str, number: int) -> Block:
    """An overflow menu to vote on one source: the training signal for that passage."""
    return {
        "type": "overflow",
        "action_id": "source_vote",
        "options": [
            {
                "text": {"type": "plain_text", "text": text, "emoji": True},
                "value": f"{answer_id}:{number}:{kind}",
            }
            for text, kind in (
                (":thumbsup: This source helped", "up"),
                (":thumbsdown: Not relevant", "down"),
            )
        ],
    }


def _button(action_id: str, text: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def escalation_text(payload: dict[str, object], with_answer: bool) -> str:
    """The escalation as a message in the support channel, all of its text escaped (a
    question or a document may hold `<!channel>`). `with_answer` only when every member of
    the channel may read every passage the answer was made from; else the question alone."""
    by = escape(str(payload["escalated_by"]))
    question = " ".join(str(payload["question"]).split())
    lines = [f"<@{by}> still needs help with:", f"> {escape(question)}"]
    if not with_answer:
        lines.append(
            "(The answer was made from sources some members of this channel may not read: it "
            f"is not shown here. Ask <@{by}>.)"
        )
        return "\n".join(lines)
    sources = payload["sources"]
    assert isinstance(sources, list)
    lines += [
        "Knowhere answered:" if payload["found"] else "Knowhere found no answer; closest:",
        f">>> {escape(plain_text(str(payload['answer'])))}",
        *(f"[{s['number']}] {_link(str(s['url']), str(s['title']))}" for s in sources),
    ]
    return "\n".join(lines)


def fallback_text(answer: Answer) -> str:
    """The notification text (shown where blocks are not): the answer's words, no markup."""
    text = escape(" ".join(plain_text(answer.text).split()))
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"
