"""The `knowhere` command line: index, search, ask, eval, services, models, db."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from . import compose, jobs
from .access.model import PUBLIC_ONLY, Audience
from .answers.freshness import stale_notice, updated_text
from .embedding import models
from .errors import KnowhereError
from .insights.outcomes import OUTCOMES
from .settings import Settings
from .sources.sources_file import load_sources
from .store.chunk_store import SearchMode
from .sync.runs import Run

app = typer.Typer(help="Knowhere: search and ask your company's knowledge.", no_args_is_help=True)
services_app = typer.Typer(help="Local Weaviate and Redis (started as plain processes).")
models_app = typer.Typer(help="Embedding models available offline.")
app.add_typer(services_app, name="services")
app.add_typer(models_app, name="models")
embedder_app = typer.Typer(help="Fine-tuned embedders: train, list, promote, roll back.")
app.add_typer(embedder_app, name="embedder")
sources_app = typer.Typer(help="Confluence spaces and ticket exports: list, sync, status.")
app.add_typer(sources_app, name="sources")
report_app = typer.Typer(help="Reports on the answers given: how they ended.")
app.add_typer(report_app, name="report")
db_app = typer.Typer(
    help="The SQL database's schema: its revision, and migrations to this version."
)
app.add_typer(db_app, name="db")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    return Settings()


def _progress(disabled: bool) -> Progress:
    """A progress bar on stderr (none when the output is JSON)."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=disabled,
    )


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@app.command()
def index(
    path: Annotated[Path, typer.Argument(help="Folder of Markdown, HTML and text files")],
    source: Annotated[str | None, typer.Option(help="Source name (default: folder name)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Index a folder. Unchanged files cost nothing; removed files disappear from the index."""
    settings = _settings()
    with _progress(disabled=as_json) as bar:
        task = bar.add_task("Indexing", total=None)
        report = jobs.index_folder(
            settings,
            path,
            source,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        _print_json(report.as_dict())
        return
    for skipped in report.skipped:
        err.print(f"[yellow]skipped[/] {skipped}", highlight=False)
    for failed in report.failed:
        err.print(f"[red]failed[/] {failed}", highlight=False)
    out.print(
        f"{report.documents} documents: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.deleted} deleted; "
        f"{report.texts_embedded} chunks embedded in {report.seconds:.1f}s"
    )


@app.command()
def search(
    query: str,
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, vector or bm25")] = "hybrid",
    alpha: Annotated[float | None, typer.Option(help="Hybrid weight, 1 = vector only")] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Search with this e-mail's permissions (default: public only)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hybrid (BM25 + vector) search over the index."""
    settings = _settings()
    audience = _audience(settings, as_user)
    with compose.connect_weaviate(settings) as client:
        embedder = compose.build_embedder(settings)
        retriever = compose.build_retriever(client, settings, embedder)
        hits = retriever.search(query, top_k, audience, mode=_mode(mode), alpha=alpha).hits
    if as_json:
        _print_json([_hit_dict(hit) for hit in hits])
        return
    if not hits:
        out.print("No results.")
    for rank, hit in enumerate(hits, start=1):
        out.print(f"[bold]{rank}. {hit.label}[/]  ({hit.score:.3f})\n   {hit.url}")
        out.print(f"   {hit.text[:200].replace(chr(10), ' ')}", markup=False)


@app.command()
def ask(
    question: str,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Answer with this e-mail's permissions (default: public only)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer a question with numbered citations of the sources used."""
    settings = _settings()
    audience = _audience(settings, as_user)
    with compose.connect_weaviate(settings) as client:
        service = compose.build_answer_service(client, settings)
        result = service.ask(question, audience)
    if as_json:
        _print_json(result.as_dict())
        return
    now = datetime.now(UTC)
    out.print(result.text, markup=False)
    notice = stale_notice(result, now)
    if notice:
        out.print(f"\n{notice}", markup=False)
    if result.citations:
        out.print("\nSources:")
        for citation in result.citations:
            updated = updated_text(citation, now)
            line = f"  [{citation.number}] {citation.label} — {citation.url}"
            out.print(f"{line} ({updated})" if updated else line, markup=False)


@app.command("eval")
def evaluate(
    dataset_dir: Path,
    split: str = "test",
    model: Annotated[str | None, typer.Option(help="Embedding model (default: configured)")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, vector or bm25")] = "hybrid",
    alpha: Annotated[float | None, typer.Option(help="Hybrid weight, 1 = vector only")] = None,
    k: int = 10,
    tune_on: Annotated[
        str | None, typer.Option(help="First choose the collection's α on this split (dev)")
    ] = None,
) -> None:
    """Retrieval quality on a BEIR-layout dataset, as JSON (nDCG@k, Recall@k, MRR@k)."""
    result = jobs.evaluate_dataset(
        _settings(), dataset_dir, split, model, _mode(mode), alpha, k, tune_on
    )
    _print_json(result)


@app.command("tune")
def tune() -> None:
    """Choose the serving index's hybrid weight α from 👍 feedback (the questions people
    asked and the sources they approved), as JSON; searches use it from then on."""
    _print_json(asdict(jobs.tune_alpha(_settings())))


OUTCOME_HEADINGS = ("👍", "👎", "escalated", "verified", "no signal")  # as in OUTCOMES
SINCE_HELP = "How far back: 30d, 12h, 2w… or ISO 8601 (P2W)"


_SHORT_DURATION = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)


def _window(since: str) -> timedelta:
    """A window such as 30d, 12h, 90m or 2w, or any duration pydantic reads (P2W, 1:00:00)."""
    short = _SHORT_DURATION.fullmatch(since.strip())
    if short:  # as ISO 8601: days and weeks in the date part, the rest after T
        number, unit = short.group(1), short.group(2).upper()
        since = f"P{number}{unit}" if unit in "DW" else f"PT{number}{unit}"
    try:
        return TypeAdapter(timedelta).validate_python(since)
    except ValidationError:
        raise typer.BadParameter(f"'{since}' is not a duration such as 30d or P2W") from None


@app.command("gaps")
def knowledge_gaps(
    since: Annotated[str, typer.Option(help=SINCE_HELP)] = "30d",
    min_size: Annotated[int, typer.Option(help="Questions a topic needs to be a gap")] = 2,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """What people asked that the documents could not answer, grouped by topic."""
    report = jobs.knowledge_gaps(_settings(), _window(since), min_size=min_size)
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
        return
    if as_csv:
        sys.stdout.write(report.to_csv())
        return
    out.print(
        f"{len(report.gaps)} gaps: {report.flagged} of {report.asked} answers since "
        f"{report.since:%Y-%m-%d %H:%M} went badly ({report.unclustered} on no common topic)",
        markup=False,
    )
    for number, gap in enumerate(report.gaps, 1):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(gap.reasons.items()))
        out.print(
            f"\n{number}. {gap.size} of {gap.asked} questions, {gap.trend} ({reasons})",
            markup=False,
        )
        for example in gap.examples:
            out.print(f"   ? {example}", markup=False)
        for source in gap.sources:
            owner = f"  [{source.owner}]" if source.owner else ""
            out.print(f"   closest: {source.title}{owner}", markup=False)


@report_app.command("outcomes")
def report_outcomes(
    since: Annotated[str, typer.Option(help=SINCE_HELP)] = "30d",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """How answers ended — 👍, 👎, escalated or no signal — per channel and per week."""
    report = jobs.outcomes(_settings(), _window(since))
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
        return
    if as_csv:
        sys.stdout.write(report.to_csv())
        return
    total = report.total
    out.print(
        f"{total.answers} answers since {report.since:%Y-%m-%d %H:%M}; no signal is never "
        "counted as resolved",
        markup=False,
    )
    for title, rows in (("Per channel", report.channels), ("Per week (from Monday)", report.weeks)):
        table = Table(title=title, title_justify="left")
        table.add_column(title.split()[1].title())
        for heading in ("answers", *OUTCOME_HEADINGS):
            table.add_column(heading, justify="right")
        for row in [*rows, total]:
            shares = (f"{row.shares[o]:.0%}" for o in OUTCOMES)
            table.add_row(row.group, str(row.answers), *shares)
        out.print(table)


@app.command("admin")
def admin(
    host: Annotated[str | None, typer.Option(help="Listen address (default: loopback)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: 8765)")] = None,
) -> None:
    """The admin page: sources, answers, feedback, embedders, latency and knowledge gaps."""
    from .admin.app import serve

    serve(_settings(), host, port)


def _audience(settings: Settings, email: str | None) -> Audience:
    """One person's permissions (`--as`), or public documents only."""
    if not email:
        return PUBLIC_ONLY
    directory = compose.directory(settings)
    try:
        return Audience.of([directory.principal(email)])
    finally:
        directory.close()


def _hit_dict(hit: Any) -> dict[str, object]:
    data = {k: v for k, v in hit.__dict__.items() if k != "access"}
    return {**data, "access": hit.access.to_dict()}


def _mode(mode: str) -> SearchMode:
    if mode not in ("hybrid", "vector", "bm25"):
        raise typer.BadParameter(f"mode must be hybrid, vector or bm25, not '{mode}'")
    return mode  # type: ignore[return-value]


@services_app.command("up")
def services_up() -> None:
    """Start the local Weaviate and Redis (unless external URLs are configured)."""
    for status in compose.local_stack(_settings()).up():
        out.print(f"{status.name}: ready at {status.url} (pid {status.pid})")


@services_app.command("down")
def services_down() -> None:
    """Stop the local services started by `services up`."""
    stopped = compose.local_stack(_settings()).down()
    out.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@services_app.command("status")
def services_status() -> None:
    """Show whether each service is running and ready."""
    statuses = compose.local_stack(_settings()).status()
    for status in statuses:
        if not status.managed:
            out.print(f"{status.name}: external at {status.url}")
        else:
            state = "ready" if status.ready else "not running"
            out.print(f"{status.name}: {state} at {status.url} (pid {status.pid or '-'})")
    if any(s.managed and not s.ready for s in statuses):
        raise typer.Exit(3)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to this version's schema (safe while other processes start)."""
    before, after = compose.database_schema(_settings(), upgrade=True)
    if before.current == after.current:
        out.print(f"database: already at revision {after.current}")
    else:
        out.print(f"database: migrated from {before.current or 'nothing'} to {after.current}")


@db_app.command("status")
def db_status() -> None:
    """The database's schema revision and this version's; exit 3 when it is behind."""
    now, _ = compose.database_schema(_settings(), upgrade=False)
    state = "up to date" if now.up_to_date else "behind: run `knowhere db upgrade`"
    out.print(f"database: revision {now.current or 'none'}, this version's {now.head} ({state})")
    if not now.up_to_date:
        raise typer.Exit(3)


@models_app.command("fetch")
def models_fetch(
    name: Annotated[str, typer.Argument(help="all-mpnet-base-v2 or all-MiniLM-L6-v2")],
) -> None:
    """Make an embedding model available offline (checks the weights' sha256)."""
    path = models.provision(name, _settings().models_dir)
    out.print(f"{name}: {path}")


@embedder_app.command("train")
def embedder_train(
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Re-embed and switch if the gate passes (default: KNOWHERE_AUTO_PROMOTE)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Build a training set from feedback, fine-tune, and judge the candidate on the gate."""
    outcome = jobs.train(_settings(), promote)
    if as_json:
        _print_json(outcome.as_dict())
        return
    out.print(f"{outcome.status}: {outcome.reason}", markup=False)
    if outcome.training_set:
        stats = outcome.training_set
        out.print(
            f"training set {stats['version']} (sha256 {str(stats['hash'])[:12]}…): "
            f"{stats.get('train_triplets', 0)} triplets, {stats.get('dev_queries', 0)} dev queries"
        )
    if outcome.verdict:
        verdict = outcome.verdict
        for name in ("dev", "guard"):
            now, new = verdict[f"current_{name}"], verdict[f"candidate_{name}"]
            out.print(f"  {name}: nDCG@10 {now['ndcg']:.4f} → {new['ndcg']:.4f}")  # type: ignore[index]
        preference = verdict.get("preference")
        if preference:
            out.print(f"  preferred on dev: {_interval(preference)} (its lower bound must be > 0)")
    if outcome.version:
        out.print(f"version: {outcome.version}", markup=False)
    if outcome.switch:
        out.print(f"switched to {outcome.switch['to_collection']}", markup=False)


@embedder_app.command("list")
def embedder_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Registered embedder versions with their metrics; the serving one is marked."""
    settings = _settings()
    serving = jobs.serving_version(settings)
    versions = jobs.embedder_versions(settings)
    if as_json:
        _print_json([{**v.as_dict(), "serving": v.version == serving} for v in versions])
        return
    for v in versions:
        mark = "*" if v.version == serving else " "
        out.print(
            f"{mark} {v.version}  {v.status}  parent={v.parent or '-'}"
            f"  set={v.training_set or '-'}{_gate_summary(v.metrics.get('gate', {}))}",
            markup=False,
        )
        for reason in v.metrics.get("gate", {}).get("reasons", []):
            out.print(f"    {reason}", markup=False)


def _gate_summary(verdict: dict[str, Any]) -> str:
    """The gate's numbers on one line: dev and guard nDCG@10, the preference interval."""
    dev = verdict.get("candidate_dev", {}).get("ndcg")
    if dev is None:
        return ""
    text = f"  dev {dev:.4f} guard {verdict.get('candidate_guard', {}).get('ndcg', 0):.4f}"
    preference = verdict.get("preference")
    if preference:
        questions = verdict["current_dev"]["queries"]
        text += f"  preferred {_interval(preference)} over {questions} questions"
    return text


def _interval(value: Any) -> str:
    """A stored gate interval: mean [low, high] (confidence)."""
    return (
        f"{value['mean']:+.3f} [{value['low']:+.3f}, {value['high']:+.3f}] "
        f"({value['confidence']:.0%})"
    )


@embedder_app.command("promote")
def embedder_promote(version: str) -> None:
    """Re-embed the index with VERSION and switch to it without downtime."""
    settings = _settings()
    report = jobs.promote(settings, version)
    out.print(
        f"{settings.collection} → {report.to_collection}: {report.chunks} chunks "
        f"({report.filled + report.caught_up + report.final} embedded) in {report.seconds:.1f}s",
        markup=False,
    )


@embedder_app.command("gc")
def embedder_gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Remove collections and model archives unused for KNOWHERE_GC_GRACE_DAYS (the serving
    and the previous ones, and candidates, always stay)."""
    cleanup = jobs.clean_up(_settings(), dry_run=dry_run)
    if as_json:
        _print_json(cleanup.as_dict())
        return
    verb = "would remove" if dry_run else "removed"
    out.print(
        f"{verb} {len(cleanup.collections)} collection(s) and {len(cleanup.models)} model "
        f"archive(s); kept {', '.join(cleanup.kept)}",
        markup=False,
    )
    for name in [*cleanup.collections, *cleanup.models]:
        out.print(f"  {name}", markup=False)


@embedder_app.command("rollback")
def embedder_rollback() -> None:
    """Switch back to the serving version's parent (its collection was kept)."""
    settings = _settings()
    report = jobs.rollback(settings)
    out.print(
        f"{settings.collection} → {report.to_collection} ({report.to_version}): "
        f"{report.chunks} chunks, {report.filled + report.caught_up + report.final} re-embedded",
        markup=False,
    )


@sources_app.command("list")
def sources_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The sources declared in KNOWHERE_SOURCES_FILE and their schedules."""
    settings = _settings()
    declared = load_sources(settings.sources_file)
    rows = [
        {
            "name": name,
            "type": config.type,
            "where": config.url if config.is_confluence else config.path,
            "spaces": config.spaces,
            "incremental": config.schedule.incremental,
            "full": config.schedule.full,
        }
        for name, config in declared.items()
    ]
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        spaces = f" spaces {', '.join(row['spaces'])}" if row["spaces"] else ""  # type: ignore[arg-type]
        out.print(
            f"{row['name']}: {row['type']} {row['where']}{spaces} "
            f"(incremental {row['incremental'] or 'off'}, full {row['full'] or 'off'})",
            markup=False,
        )


def _print_run(run: Run) -> None:
    c = run.counts
    out.print(
        f"{run.source} {'full' if run.full else 'incremental'} run {run.id[:8]}: {run.status}; "
        f"{c.added} added, {c.updated} updated, {c.unchanged} unchanged, {c.deleted} deleted, "
        f"{c.failed} failed; {c.embedded} chunks embedded",
        markup=False,
    )
    if run.error:
        err.print(f"error: {run.error}", markup=False)
    for failure in run.errors:
        err.print(f"failed {failure}", markup=False)


@sources_app.command("sync")
def sources_sync(
    name: str,
    full: Annotated[
        bool, typer.Option("--full", help="Fetch everything and prune what is gone")
    ] = False,
    enqueue: Annotated[
        bool, typer.Option("--enqueue", help="Run on the Celery workers instead of here")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sync one source now: only what changed since the last run (or everything with --full)."""
    settings = _settings()
    if enqueue:
        task_id = jobs.enqueue_sync(settings, name, full)
        out.print(f"queued sync of {name} (task {task_id})", markup=False)
        return
    with _progress(disabled=as_json) as bar:
        task = bar.add_task(f"Syncing {name}", total=None)
        run = jobs.sync_source(
            settings,
            name,
            full,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if run is None:
        raise KnowhereError(f"the run of {name} was taken over by another sync")
    if as_json:
        _print_json(run.as_dict())
    else:
        _print_run(run)
    if run.status != "finished":
        raise typer.Exit(1)


@sources_app.command("directory")
def sources_directory(
    name: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Read a Confluence source's groups and members into the directory every bot shares."""
    snapshot = jobs.sync_directory(_settings(), name)
    report = snapshot.as_dict()
    if as_json:
        _print_json(report)
        return
    out.print(
        f"{name}: {report['people']} people ({report['with_email']} with e-mail), "
        f"{report['groups']} groups, {report['memberships']} memberships",
        markup=False,
    )
    for failure in snapshot.failures:
        err.print(f"failed {failure}", markup=False)


@sources_app.command("status")
def sources_status(
    name: Annotated[str | None, typer.Argument(help="One source (default: all)")] = None,
    limit: Annotated[int, typer.Option(help="Runs to show")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The latest sync runs: when, how they ended, counts and failed documents."""
    detailed = jobs.sync_runs(_settings(), name, limit)
    if as_json:
        _print_json([run.as_dict() for run in detailed])
        return
    if not detailed:
        out.print("no sync runs yet")
    for run in detailed:
        _print_run(run)


def main() -> None:
    try:
        app()
    except KnowhereError as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
