"""How answers ended, counted honestly: 👍, 👎, escalated, verified answer served, no signal.

Each answer ends as exactly one outcome. Escalated wins (someone still needed a person,
whatever the votes); otherwise the active votes on the whole answer decide, a tie counting as
👎; an answer nobody voted on that served a verified answer first is *verified*; any other
is *no signal*, never resolved. Votes on a single source
are about that source and do not decide the answer's outcome. `knowhere report outcomes`
prints the shares per channel and per week (ISO weeks, starting on Monday).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from ..answers.log import AnswerSignals

Outcome = Literal["helpful", "not_helpful", "escalated", "verified", "no_signal"]
OUTCOMES: tuple[Outcome, ...] = ("helpful", "not_helpful", "escalated", "verified", "no_signal")


def outcome_of(signals: AnswerSignals) -> Outcome:
    if signals.escalated:
        return "escalated"
    if signals.ups or signals.downs:
        return "helpful" if signals.ups > signals.downs else "not_helpful"
    return "verified" if signals.verified else "no_signal"


@dataclass(frozen=True)
class OutcomeRow:
    """The outcomes of one group of answers (a channel, or a week)."""

    group: str
    answers: int
    counts: dict[str, int]  # per outcome, every outcome present
    shares: dict[str, float]  # per outcome, of `answers`


@dataclass(frozen=True)
class OutcomeReport:
    since: datetime
    until: datetime
    total: OutcomeRow
    channels: list[OutcomeRow]  # most answers first
    weeks: list[OutcomeRow]  # oldest first, "2026-11-30" = the week's Monday

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_csv(self) -> str:
        """One row per channel, then per week, then the total."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["by", "group", "answers", *OUTCOMES, *(f"{o}_share" for o in OUTCOMES)])
        rows = [("channel", r) for r in self.channels] + [("week", r) for r in self.weeks]
        for by, row in [*rows, ("total", self.total)]:
            writer.writerow(
                [
                    by,
                    row.group,
                    row.answers,
                    *(row.counts[o] for o in OUTCOMES),
                    *(row.shares[o] for o in OUTCOMES),
                ]
            )
        return out.getvalue()


def _row(group: str, outcomes: Sequence[Outcome]) -> OutcomeRow:
    counts = Counter(outcomes)
    total = len(outcomes)
    return OutcomeRow(
        group=group,
        answers=total,
        counts={o: counts[o] for o in OUTCOMES},
        shares={o: round(counts[o] / total, 4) if total else 0.0 for o in OUTCOMES},
    )


def _grouped(
    answers: Sequence[AnswerSignals], key: Callable[[AnswerSignals], str]
) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = {}
    for signals in answers:
        groups.setdefault(key(signals), []).append(outcome_of(signals))
    return groups


def week_of(at: datetime) -> str:
    """The Monday of `at`'s ISO week, e.g. "2026-11-30"."""
    monday: date = at.date() - timedelta(days=at.weekday())
    return monday.isoformat()


def outcome_report(
    answers: Sequence[AnswerSignals], since: datetime, until: datetime
) -> OutcomeReport:
    channels = _grouped(answers, lambda a: f"{a.platform}:{a.conversation}")
    weeks = _grouped(answers, lambda a: week_of(a.at))
    by_size = sorted(channels.items(), key=lambda item: (-len(item[1]), item[0]))
    return OutcomeReport(
        since=since,
        until=until,
        total=_row("all", [outcome_of(a) for a in answers]),
        channels=[_row(group, outcomes) for group, outcomes in by_size],
        weeks=[_row(group, outcomes) for group, outcomes in sorted(weeks.items())],
    )
