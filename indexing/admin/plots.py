"""The admin page's plots, drawn with matplotlib on the server and inlined as SVG (no script,
no external asset). Each function returns an `<svg>` element."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from ..insights.dashboard import Day, EmbedderBar

FOUND, MISSED, UP, DOWN, LINE = "#2e7d32", "#c62828", "#1565c0", "#ef6c00", "#455a64"


def _svg(figure: Figure, title: str) -> str:
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    buffer = io.StringIO()
    # Text stays text (the browser's fonts), and element ids are the same on every render.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "knowhere"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML declaration and doctype


def _per_day(days: Sequence[Day]) -> tuple[Figure, Any, list[str]]:
    """A figure for one value per day: its axes and the day labels (MM-DD)."""
    figure = Figure(figsize=(7, 2.6))
    return figure, figure.subplots(), [d.day.strftime("%m-%d") for d in days]


def _finish_per_day(figure: Figure, axes: Any, ylabel: str, title: str) -> str:
    axes.set_ylabel(ylabel)
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    axes.tick_params(axis="x", labelsize=7, rotation=60)
    labels = axes.get_xticklabels()
    step = max(1, len(labels) // 10)  # about ten dates on the axis
    for n, label in enumerate(labels):
        label.set_visible(n % step == 0)
    return _svg(figure, title)


def answers_per_day(days: Sequence[Day]) -> str:
    figure, axes, labels = _per_day(days)
    found = [d.found for d in days]
    axes.bar(labels, found, color=FOUND, label="found")
    axes.bar(labels, [d.not_found for d in days], bottom=found, color=MISSED, label="not found")
    return _finish_per_day(figure, axes, "answers", "Answers per day")


def votes_per_day(days: Sequence[Day]) -> str:
    figure, axes, labels = _per_day(days)
    axes.bar(labels, [d.up for d in days], color=UP, label="helpful")
    axes.bar(labels, [-d.down for d in days], color=DOWN, label="not helpful")
    axes.axhline(0, color=LINE, linewidth=0.8)
    return _finish_per_day(figure, axes, "votes", "Feedback per day")


def latency_per_day(days: Sequence[Day]) -> str:
    figure, axes, labels = _per_day(days)
    nan = float("nan")
    axes.plot(labels, [d.p50 if d.p50 is not None else nan for d in days], "o-", label="p50")
    axes.plot(labels, [d.p90 if d.p90 is not None else nan for d in days], "s--", label="p90")
    axes.set_ylim(bottom=0)
    return _finish_per_day(figure, axes, "seconds", "Answer latency per day")


def ndcg_per_embedder(bars: Sequence[EmbedderBar]) -> str:
    """Dev nDCG@10 of each version beside its parent's on the same questions; promotions and
    rollbacks written above the bars."""
    figure = Figure(figsize=(7, 3))
    axes = figure.subplots()
    names = [b.version if len(b.version) <= 24 else "…" + b.version[-23:] for b in bars]
    positions = list(range(len(bars)))
    axes.bar(
        [p - 0.2 for p in positions],
        [b.parent_dev_ndcg or 0.0 for b in bars],
        width=0.4,
        color="#b0bec5",
        label="model it was trained from",
    )
    colors = [
        FOUND if b.status == "promoted" else MISSED if b.status == "rejected" else UP for b in bars
    ]
    axes.bar(
        [p + 0.2 for p in positions],
        [b.dev_ndcg or 0.0 for b in bars],
        width=0.4,
        color=colors,
        label="this version",
    )
    for position, bar in zip(positions, bars, strict=True):
        if bar.events:
            top = max(bar.dev_ndcg or 0.0, bar.parent_dev_ndcg or 0.0)
            axes.annotate(
                "\n".join(bar.events), (position, top), ha="center", va="bottom", fontsize=7
            )
    axes.set_xticks(positions, names, fontsize=7, rotation=15)
    axes.set_ylim(0, 1.15)
    axes.set_ylabel("dev nDCG@10")
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    return _svg(figure, "nDCG@10 per embedder version")
