"""Answers as Teams messages: markdown text with [n] markers, citation entities, AI label.

Teams shows each `[n]` as a citation pill from the schema.org `Message` entity (title ≤ 80,
abstract ≤ 160 characters, at most 20 citations), labels the message "AI generated", and
with `feedbackLoopEnabled` shows its like/dislike buttons.

Documents are data: the text of an answer may come from any page, so it is made safe before
Teams renders it as Markdown (`bot.safe_markdown`: its formatting and code blocks stay, a
`[Re-authenticate](https://evil)` arrives as "Re-authenticate (`https://evil`)", a bare
address as code, HTML as text); other text (a source's title, a name, a question) is
escaped to plain text. The only links in a message are the citations' own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, Attachment, Entity

from indexing import Answer, Citation, VerifiedAnswer, stale_notice, updated_text

from ..safe_markdown import safe_markdown

MAX_CITATIONS = 20
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")
_CITATION = re.compile(r"\\\[(\d+)\\\]")
_CITATION_PILL = re.compile(r"\[(\d+)\]")
_ADDRESS = re.compile(r"\b(?:https?|ftp|file|mailto):[^\s`)\]]+|\bwww\.[^\s`)\]]+", re.I)


def escape(text: str) -> str:
    """`text` shown as written: no Markdown, HTML or links of its own; [n] markers stay."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts = []
    last = 0
    for match in _ADDRESS.finditer(text):
        parts.append(_MARKUP.sub(r"\\\1", text[last : match.start()]))
        parts.append(f"`{match.group(0)}`")  # code is never turned into a link
        last = match.end()
    parts.append(_MARKUP.sub(r"\\\1", text[last:]))
    return _CITATION.sub(r"[\1]", "".join(parts))


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _abstract(citation: Citation, now: datetime) -> str:
    """The citation's snippet, after when and by whom its source was last updated."""
    updated = updated_text(citation, now)
    if not updated:
        return _clip(citation.snippet, 160)
    return _clip(f"{updated[0].upper()}{updated[1:]}. {citation.snippet}", 160)


def citation_entity(answer: Answer, now: datetime) -> dict[str, Any]:
    return {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
        "citation": [
            {
                "@type": "Claim",
                "position": c.number,
                "appearance": {
                    "@type": "DigitalDocument",
                    "name": _clip(c.label or c.title, 80),
                    "url": c.url if c.url.startswith(("http://", "https://")) else None,
                    "abstract": _abstract(c, now),
                },
            }
            for c in answer.citations[:MAX_CITATIONS]
        ],
    }


ESCALATE_KEY = "knowhere_escalate"  # the *Still need help* card's submit data: {key: answer id}
ESCALATE_LABEL = "🎫 Still need help"
CARD = "application/vnd.microsoft.card.adaptive"


VERIFY_KEY = "knowhere_verify"  # {key: answer id, "text": the expert's text}
WITHDRAW_KEY = "knowhere_withdraw"  # {key: verified answer id}


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Attachment:
    content = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
        "actions": actions,
    }
    return Attachment(content_type=CARD, content=content)


def submit(title: str, data: dict[str, str]) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": title, "data": data}


def submit_card(text: str | None, title: str, data: dict[str, str]) -> Attachment:
    """An Adaptive Card with one `Action.Submit` button (and a line of text above it)."""
    body = [{"type": "TextBlock", "text": text, "wrap": True}] if text else []
    return card(body, [submit(title, data)])


def answer_card(answer: Answer, answer_id: str, escalate: bool, verify: bool) -> Attachment | None:
    """The answer's buttons: *Still need help*; for experts *Verify* (a form with the text to
    edit) and, on a verified answer, *Withdraw verification*. None without any."""
    actions = []
    if escalate:
        actions.append(submit(ESCALATE_LABEL, {ESCALATE_KEY: answer_id}))
    if verify and answer.found and answer.citations:
        form = {
            "type": "Input.Text",
            "id": "text",
            "isMultiline": True,
            "maxLength": 3000,
            "value": answer.text[:3000],
            "label": "The answer people will get first (its sources stay)",
        }
        confirm = submit("Verify", {VERIFY_KEY: answer_id})
        actions.append(
            {
                "type": "Action.ShowCard",
                "title": "✅ Verify",
                "card": {"type": "AdaptiveCard", "body": [form], "actions": [confirm]},
            }
        )
    if verify and answer.verified:
        actions.append(submit("Withdraw verification", {WITHDRAW_KEY: answer.verified.id}))
    return card([], actions) if actions else None


def submitted(activity: Any, key: str) -> str | None:
    """The answer id a pressed card button (`key` in its data) names; None for other messages."""
    value = activity.value if isinstance(activity.value, dict) else {}
    answer_id = value.get(key)
    return str(answer_id) if answer_id else None


def escalation_activity(payload: dict[str, Any], with_answer: bool, name: str) -> Activity:
    """An escalation as a message in the support channel: who needs help and the question;
    the answer and its sources only `with_answer` (every member may read every passage)."""
    lines = [
        f"**{escape(name)}** still needs help with:",
        "",
        f"> {escape(str(payload['question']))}",
    ]
    if not with_answer:
        lines += [
            "",
            "(The answer was made from sources some members of this channel may not read: it "
            f"is not shown here. Ask {escape(name)}.)",
        ]
    else:
        lines += [
            "",
            "Knowhere answered:" if payload["found"] else "Knowhere found no answer; closest:",
        ]
        lines += ["", safe_markdown(str(payload["answer"])), ""]
        lines += [_source_line(s["number"], s["title"], s["url"]) for s in payload["sources"]]
    return Activity(type=ActivityTypes.message, text="\n".join(lines), text_format="markdown")


def _source_line(number: object, title: object, url: object) -> str:
    """ "- [n] title" as a list item, linked when the address is a web one (n is no pill)."""
    shown = escape(str(title))
    link = f"[{shown}]({url})" if str(url).startswith(("http://", "https://")) else shown
    return f"- \\[{number}\\] {link}"


def _verified_text(verified: VerifiedAnswer) -> str:
    """The verified answer, before the usual one: who verified it and when, its text (its
    [n] markers are not the citation pills below) and its sources."""
    text = _CITATION_PILL.sub(r"\\[\1\\]", safe_markdown(verified.text))
    lines = [
        f"✅ **Verified by {escape(verified.verified_by)} on {verified.verified_at:%Y-%m-%d}**",
        "",
        text,
        "",
        *(_source_line(c.number, c.label or c.title, c.url) for c in verified.citations),
        "",
        "---",
        "",
    ]
    return "\n".join(lines)


def answer_activity(
    answer: Answer, now: datetime | None = None, buttons: Attachment | None = None
) -> Activity:
    """The answer as a Teams message (an expert's verified answer to the same question
    first); `now` (default: the current time) is what the sources' ages are counted from;
    `buttons` (`answer_card`) goes below it."""
    now = now or datetime.now(UTC)
    text = safe_markdown(answer.text)
    if answer.verified:
        text = _verified_text(answer.verified) + text
    notice = stale_notice(answer, now)
    if notice:
        text += f"\n\n⚠️ {escape(notice)}"
    if not answer.found and answer.citations:
        closest = (f"- {escape(c.label or c.title)} [{c.number}]" for c in answer.citations)
        text += "\n\n" + "\n".join(closest)
    activity = Activity(
        type=ActivityTypes.message,
        text=text,
        text_format="markdown",
        entities=[Entity(**citation_entity(answer, now))],
        channel_data={"feedbackLoopEnabled": True},
    )
    if buttons is not None:
        activity.attachments = [buttons]
    return activity
