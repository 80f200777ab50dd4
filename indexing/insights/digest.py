"""The weekly knowledge-gap digest, as a Slack message.

A gap's example questions were asked in conversations the digest's channel may not see (a
private channel, a direct message), and its closest sources may be restricted pages. So by
default the digest gives each gap's numbers only — size, how often the topic was asked, its
trend and why — and points to the admin page and `knowhere gaps` for the questions. With
`details` (KNOWHERE_GAPS_DIGEST_DETAILS=true: the channel may read every question and
title), it shows the examples and the closest sources with their owners too.
"""

from __future__ import annotations

from typing import Any

from .gaps import GapReport

MOST = 10  # gaps in one message


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(reasons.items()))


def digest_message(
    report: GapReport, details: bool = False, admin_url: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for the report."""
    summary = (
        f"Knowledge gaps this week: {len(report.gaps)} topics where people did not find an "
        f"answer ({report.flagged} of {report.asked} answers went badly)."
    )
    where = f"<{admin_url}|the admin page>" if admin_url else "the admin page (`knowhere admin`)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Knowledge gaps this week"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
    ]
    for number, gap in enumerate(report.gaps[:MOST], 1):
        lines = [
            f"*{number}.* {gap.size} of {gap.asked} questions · {gap.trend} · "
            f"{_reasons(gap.reasons)}"
        ]
        if details:
            lines += [f"> {example}" for example in gap.examples]
            if gap.sources:
                closest = "; ".join(
                    f"{s.title} ({s.owner})" if s.owner else s.title for s in gap.sources
                )
                lines.append(f"Closest: {closest}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if len(report.gaps) > MOST:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"…and {len(report.gaps) - MOST} more."}],
            }
        )
    hint = f"The questions and the closest sources are on {where} and in `knowhere gaps`."
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
    return summary, blocks
