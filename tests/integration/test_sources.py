"""Syncing Confluence spaces and ticket exports: the admin's story from sources file to search.

Confluence is a local stand-in (tests/confluence_standin.py) serving the REST payloads of
Atlassian's documentation; ticket exports are fixture files in the vendors' formats.
"""

from __future__ import annotations

import gc
import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from processes import bot_env, celery_worker, knowhere, wait_for
from pydantic import SecretStr
from standins.confluence_standin import EMAIL, TOKEN, ConfluenceStandIn, generate_space

from indexing import (
    Access,
    Audience,
    ChunkStore,
    Clause,
    Failure,
    Principal,
    Settings,
    SourceError,
    compose,
    jobs,
)
from indexing.sources.confluence.client import ConfluenceAuth, ConfluenceClient
from indexing.sources.tickets.documents import ticket_document
from indexing.sources.tickets.formats import READERS
from indexing.sources.tickets.pairs import TicketPairs
from indexing.sources.tickets.people import People
from indexing.sync import steps

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tickets"
TOKEN_ENV = "KNOWHERE_TEST_CONFLUENCE_TOKEN"

DEPLOY_GUIDE = """
<h1>Deploying the billing service</h1>
<ac:structured-macro ac:name="toc" />
<p>Read the <ac:link><ri:page ri:content-title="Release checklist" /></ac:link> first.</p>
<h2>Steps</h2>
<ol><li>Merge to main</li><li>Run the pipeline</li></ol>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>
<ac:plain-text-body><![CDATA[billingctl deploy --env prod --canary 10]]></ac:plain-text-body>
</ac:structured-macro>
<ac:structured-macro ac:name="warning"><ac:parameter ac:name="title">Freeze</ac:parameter>
<ac:rich-text-body><p>No billing deploys during the month-end close.</p></ac:rich-text-body>
</ac:structured-macro>
<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Rollback</ac:parameter>
<ac:rich-text-body><p>Run <code>billingctl rollback</code> within 15 minutes.</p>
</ac:rich-text-body>
</ac:structured-macro>
<table><tbody><tr><th>Env</th><th>Approver</th></tr><tr><td>prod</td><td>SRE lead</td></tr></tbody>
</table>
"""


@pytest.fixture
def confluence(monkeypatch) -> Iterator[ConfluenceStandIn]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with ConfluenceStandIn() as site:
        state = site.state
        state.add_space("ENG", "Engineering", readers_groups=["engineering"])
        state.add_space("HR", "People team", forbidden=True)
        home = state.add_page("ENG", "Engineering home", "<p>Welcome to engineering.</p>")
        state.add_page(
            "ENG", "Deploy guide", DEPLOY_GUIDE, parent=home.id, labels=["deploy", "billing"]
        )
        state.add_page(
            "ENG",
            "Incident review template",
            "<h2>Timeline</h2><p>Write the timeline of the outage in UTC.</p>",
            parent=home.id,
        )
        bands = state.add_page(
            "ENG",
            "Salary bands",
            "<p>Engineering salary bands for the 2025 review cycle.</p>",
            parent=home.id,
            read_groups=["hr", "eng-managers"],
            read_users=[{"accountId": "acc-1", "email": "cto@example.com"}],
        )
        state.add_page(
            "ENG",
            "Salary exceptions",
            "<p>Approved exceptions to the salary bands.</p>",
            parent=bands.id,
            read_groups=["hr"],
        )
        yield site


def write_sources(path: Path, site_url: str, spaces: str = "[ENG]", **extra: str) -> Path:
    lines = [
        "sources:",
        "  wiki:",
        "    type: confluence",
        f"    url: {site_url}",
        f"    email: {EMAIL}",
        f"    token_env: {TOKEN_ENV}",
        f"    spaces: {spaces}",
        *[f"    {key}: {value}" for key, value in extra.items()],
        "  jira:",
        "    type: jira-csv",
        f"    path: {FIXTURES / 'jira.csv'}",
        "    url: https://acme.atlassian.net",
        "    access: {groups: [support]}",
        "  zendesk:",
        "    type: zendesk",
        f"    path: {FIXTURES / 'zendesk.json'}",
        "    url: https://acme.zendesk.com",
        "    personal_data: drop",
        "    access: {groups: [support]}",
        "  servicenow:",
        "    type: servicenow-csv",
        f"    path: {FIXTURES / 'servicenow.csv'}",
        "    url: https://acme.service-now.com",
        "    access: {users: [it-lead@example.com]}",
        "  helpdesk:",
        "    type: tickets-jsonl",
        f"    path: {FIXTURES / 'generic.jsonl'}",
        "    url_template: https://help.example.com/t/{id}",
        "    access: {public: true}",
        "    mapping: {id: ticket, summary: title, description: body, status: state, "
        "resolution: answer, labels: tags, created: opened, resolved: closed}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def with_sources(settings: Settings, sources: Path, **changes: object) -> Settings:
    return settings.model_copy(update={"sources_file": sources, **changes})


def chunks_by_doc(settings: Settings) -> dict[str, list]:
    with compose.connect_weaviate(settings) as client:
        found: dict[str, list] = {}
        for chunk in ChunkStore(client, settings.collection).scan():
            found.setdefault(chunk.doc_id, []).append(chunk)
        return found


# Confluence: sync, search, edit, delete, permissions ----------------------------------------


def test_a_space_is_synced_searchable_and_kept_current(settings, confluence, tmp_path):
    state = confluence.state
    config = with_sources(settings, write_sources(tmp_path / "sources.yml", confluence.url))
    env = bot_env(config, KNOWHERE_SOURCES_FILE=str(config.sources_file))
    env[TOKEN_ENV] = TOKEN
    state.throttle, state.retry_after = 2, "1"  # Confluence starts by asking us to slow down

    sync_cli = knowhere(env, "sources", "sync", "wiki", "--json")
    assert sync_cli.returncode == 0, sync_cli.stderr
    first = json.loads(sync_cli.stdout)
    assert first["status"] == "finished"
    assert (first["added"], first["failed"]) == (5, 0)
    assert state.count("GET /wiki/rest/api/space/ENG") == 3  # two 429s, then the answer
    assert TOKEN not in sync_cli.stdout + sync_cli.stderr

    # The space is readable by engineering only: search as one of them (bob, groups.yml).
    groups = {"KNOWHERE_GROUPS_FILE": str(FIXTURES.parent / "groups.yml")}
    search = knowhere(
        {**env, **groups},
        "search",
        "how do I deploy billing to prod",
        "--as",
        "bob@northwind.example",
    )
    assert "No results" in knowhere(env, "search", "how do I deploy billing to prod").stdout
    assert search.returncode == 0, search.stderr
    assert "Deploy guide" in search.stdout.splitlines()[0]
    # Each cited page says when and by whom it last changed. The space was last edited in
    # January 2024, longer ago than KNOWHERE_STALE_DAYS (365): the answer says it is old.
    asked = knowhere(
        {**env, **groups}, "ask", "how do I deploy billing to prod", "--as", "bob@northwind.example"
    )
    assert asked.returncode == 0, asked.stderr
    shown = " ".join(asked.stdout.split())
    assert "ago by Ada Admin · may be out of date)" in shown
    assert "Every source of this answer is old" in shown

    docs = chunks_by_doc(config)
    guide = next(c for cs in docs.values() for c in cs if c.title == "Deploy guide")
    text = "\n".join(c.text for c in docs[guide.doc_id])
    assert "billingctl deploy --env prod --canary 10" in text and "```" in text
    assert "Warning: Freeze" in text and "Release checklist" in text
    assert "| prod | SRE lead |" in text
    meta = json.loads(guide.meta)
    assert meta["labels"] == ["deploy", "billing"]
    assert meta["breadcrumb"] == "Engineering home" and meta["space"] == "ENG"
    assert meta["version"] == 1 and meta["author"] == "Ada Admin"
    assert guide.url.startswith(confluence.url + "/spaces/ENG/pages/")
    engineering = Clause.of(groups=["engineering"])
    assert guide.access == Access((engineering,))  # the space's read permission

    # Confluence's rule: the space permission AND, at every restricted level, a listed user
    # or a member of a listed group. Each level is a clause of its own.
    bands = next(cs[0] for cs in docs.values() if cs[0].title == "Salary bands")
    bands_level = Clause.of(["acc-1", "cto@example.com"], ["hr", "eng-managers"])
    assert set(bands.access.clauses) == {engineering, bands_level}
    exceptions = next(cs[0] for cs in docs.values() if cs[0].title == "Salary exceptions")
    assert set(exceptions.access.clauses) == {engineering, bands_level, Clause.of(groups=["hr"])}
    hr_only = Principal.of("hanna@example.com", ["hr"])  # in hr, but not in engineering
    both = Principal.of("erin@example.com", ["hr", "engineering"])
    assert not Audience.of([hr_only]).may_read(exceptions.access)
    assert Audience.of([both]).may_read(exceptions.access)
    cto = Principal.of("", ["engineering"], ["acc-1"])  # known to Cloud by account id only
    assert Audience.of([cto]).may_read(bands.access)
    assert not Audience.of([cto]).may_read(exceptions.access)  # not in hr

    # One page edited: the next incremental sync fetches and embeds only that page.
    page = next(p for p in state.pages.values() if p.title == "Incident review template")
    state.edit(page.id, "<h2>Timeline</h2><p>Write the timeline in UTC and link the graphs.</p>")
    requests_before = len(state.requests)
    second = jobs.sync_source(config, "wiki")
    assert second is not None and second.status == "finished"
    counts = second.counts
    assert (counts.added, counts.updated, counts.unchanged, counts.failed) == (0, 1, 4, 0)
    after = chunks_by_doc(config)
    assert counts.embedded == len(after[f"wiki:page/{page.id}"]) > 0
    fetched = [r for r in state.requests[requests_before:] if "cql=id+in" in r]
    assert len(fetched) == 1 and f"%28{page.id}%29" in fetched[0]
    assert "link the graphs" in after[f"wiki:page/{page.id}"][0].text

    # Nothing changed: nothing fetched, nothing embedded.
    third = jobs.sync_source(config, "wiki")
    assert third is not None and third.counts.embedded == 0 and third.counts.updated == 0

    # A restriction added without an edit (Confluence keeps the version): the next incremental
    # sync rewrites that page's access lists in place, fetching and embedding nothing.
    page.read_groups = ["sre"]
    requests_before = len(state.requests)
    fourth = jobs.sync_source(config, "wiki")
    assert fourth is not None and (fourth.counts.updated, fourth.counts.embedded) == (1, 0)
    assert not [r for r in state.requests[requests_before:] if "cql=id+in" in r]
    restricted = chunks_by_doc(config)[f"wiki:page/{page.id}"]
    assert {c.access for c in restricted} == {Access((engineering, Clause.of(groups=["sre"])))}
    assert {c.text for c in restricted} == {c.text for c in after[f"wiki:page/{page.id}"]}

    # A page trashed and one archived: gone after the next incremental sync (prune).
    gone = next(p for p in state.pages.values() if p.title == "Salary exceptions")
    gone.status = "trashed"
    archived = next(p for p in state.pages.values() if p.title == "Engineering home")
    archived.status = "archived"
    fifth = jobs.sync_source(config, "wiki")
    assert fifth is not None and fifth.counts.deleted == 2 and fifth.counts.embedded == 0
    remaining = {cs[0].title for cs in chunks_by_doc(config).values()}
    assert remaining == {"Deploy guide", "Incident review template", "Salary bands"}

    # A full sync fetches every page again and embeds nothing that did not change.
    full = jobs.sync_source(config, "wiki", full=True)
    assert full is not None and full.counts.embedded == 0 and full.counts.unchanged == 3

    status = knowhere(env, "sources", "status", "wiki", "--json")
    runs = json.loads(status.stdout)
    kinds = ["full", "incremental", "incremental", "incremental", "incremental", "incremental"]
    assert [r["kind"] for r in runs] == kinds
    assert runs[1]["deleted"] == 2 and runs[-1]["added"] == 5
    assert all(r["status"] == "finished" and r["finished_at"] for r in runs)


def test_section_pages_give_no_chunks_and_chunks_keep_to_their_sections(
    settings, confluence, tmp_path
):
    state = confluence.state
    section = state.add_page(
        "ENG",
        "Runbooks",
        '<p>This section collects 2 pages.</p><ac:structured-macro ac:name="children" />',
    )
    state.add_page(
        "ENG",
        "Cache runbook",
        "<h2>Flush</h2><p>Flush the cache with cachectl flush --all.</p>"
        "<h2>Warm up</h2><p>Warm it again from the nightly snapshot.</p>",
        parent=section.id,
    )
    config = with_sources(settings, write_sources(tmp_path / "sources.yml", confluence.url))

    run = jobs.sync_source(config, "wiki")

    assert run is not None and run.status == "finished" and run.counts.failed == 0
    chunks = {c.title: c for cs in chunks_by_doc(config).values() for c in cs if c.title}
    assert "Runbooks" not in chunks
    runbook = [c for cs in chunks_by_doc(config).values() for c in cs if c.title == "Cache runbook"]
    assert sorted((c.heading, c.text) for c in runbook) == [
        ("Flush", "Flush the cache with cachectl flush --all."),
        ("Warm up", "Warm it again from the nightly snapshot."),
    ]


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with `text` in Helvetica (the smallest valid file pypdf reads)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_attachments_are_read_and_a_broken_page_does_not_fail_the_sync(
    settings, confluence, tmp_path
):
    import io

    import docx

    state = confluence.state
    word = docx.Document()
    word.add_heading("Laptop policy", level=1)
    word.add_paragraph("Laptops are replaced every four years.")
    buffer = io.BytesIO()
    word.save(buffer)
    page = next(p for p in state.pages.values() if p.title == "Incident review template")
    page.attachments = {
        "policy.docx": buffer.getvalue(),
        "severity.pdf": minimal_pdf("Severity one means customers cannot pay"),
        "notes.txt": b"Postmortems are due within five business days.",
        "diagram.png": b"\x89PNG not text",
    }
    broken = state.add_page("ENG", "Broken page", "<p>x</p>")
    broken.body = None  # type: ignore[assignment]  # Confluence sent no body.storage
    sources = write_sources(tmp_path / "sources.yml", confluence.url, attachments="true")
    run = jobs.sync_source(with_sources(settings, sources), "wiki")
    assert run is not None and run.status == "finished"
    assert (run.counts.added, run.counts.failed) == (5, 1)
    failure, *_ = run.errors
    assert f"page {broken.id} (Broken page)" in failure.item
    assert "no body.storage" in failure.reason
    docs = chunks_by_doc(with_sources(settings, sources))
    text = "\n".join(c.text for c in docs[f"wiki:page/{page.id}"])
    assert "Laptops are replaced every four years." in text
    assert "Severity one means customers cannot pay" in text
    assert "Postmortems are due within five business days." in text
    assert "PNG" not in text


def test_a_forbidden_space_is_named_and_the_token_never_shown(settings, confluence, tmp_path):
    sources = write_sources(tmp_path / "sources.yml", confluence.url, spaces="[HR]")
    config = with_sources(settings, sources)
    with pytest.raises(SourceError) as raised:
        jobs.sync_source(config, "wiki")
    message = str(raised.value)
    assert "space HR" in message and "HTTP 403" in message and TOKEN not in message
    runs = compose.open_sync_runs(config).latest("wiki")
    assert runs[0].status == "failed" and "space HR" in runs[0].error

    wrong = ConfluenceAuth("cloud", SecretStr("not-the-token"), EMAIL)
    with ConfluenceClient(confluence.url, wrong) as client, pytest.raises(SourceError) as bad:
        client.get_json("space/ENG", space="ENG")
    assert "HTTP 401" in str(bad.value) and "space ENG" in str(bad.value)


def test_data_center_with_a_context_path_and_a_personal_access_token():
    with ConfluenceStandIn(context="/confluence", cloud=False) as site:
        site.state.add_space("OPS", "Operations")
        for n in range(120):
            site.state.add_page("OPS", f"Runbook {n}", f"<p>Step {n}</p>")
        auth = ConfluenceAuth("datacenter", SecretStr(TOKEN))
        with ConfluenceClient(site.url, auth) as client:
            listed = list(
                client.paginate("content", {"spaceKey": "OPS", "type": "page", "limit": 100})
            )
        assert len(listed) == 120  # three pages of 50, `next` joined to /confluence
        assert site.state.count("GET /confluence/rest/api/content?") == 3


# Ticket exports ------------------------------------------------------------------------------


def test_ticket_exports_read_every_format_and_report_bad_records():
    options = {"url": "https://acme.example"}
    found: dict[str, list] = {}
    for kind, name in [
        ("jira-csv", "jira.csv"),
        ("jira-json", "jira.json"),
        ("zendesk", "zendesk.json"),
        ("servicenow-csv", "servicenow.csv"),
        ("servicenow-json", "servicenow.json"),
    ]:
        found[name] = list(READERS[kind](FIXTURES / name, options))
    errors = {str(r) for rs in found.values() for r in rs if isinstance(r, Failure)}
    assert errors == {
        "jira.csv, line 15: has 4 fields, the header has 18",
        "jira.csv, line 16: missing Summary",
        "jira.json, record 3 (id SUP-203): missing fields.summary",
        "zendesk.json, record 2 (id 4712): missing subject",
        "servicenow.csv, line 8 (INC0010002): missing short_description",
        "servicenow.csv, line 9 (INC0010003): not a date: 'not a date'",
        "servicenow.json, record 2: missing number",
    }
    vpn = next(t for t in found["jira.csv"] if not isinstance(t, Failure))
    assert [c.body.split(";")[0][:20] for c in vpn.comments][2].startswith("Upgrade the VPN")
    document = ticket_document(vpn, "support", People("hash", b"key"))
    text = document.text
    # Quoted replies, signatures and people are gone; the public conversation stays in order.
    assert "wrote:" not in text and "> Can you send" not in text
    assert "Paula" not in text and "Sam" not in text and "@example.com" not in text
    assert "Best regards" not in text and "Acme Corp" not in text
    assert text.index("Can you send the client version?") < text.index("Version 5.2.1")
    assert "## Resolution\n\nUpgrade the VPN client to 5.3" in text
    assert document.metadata["url"] == "https://acme.example/browse/SUP-101"
    assert document.metadata["reporter"].startswith("person-")
    sso = next(t for t in found["jira.json"] if not isinstance(t, Failure))
    assert "cert rotated" not in ticket_document(sso, "s", People("drop")).text  # internal note


def test_ticket_sources_sync_with_pairs_and_personal_data_dropped(settings, tmp_path):
    config = with_sources(settings, write_sources(tmp_path / "sources.yml", "http://unused"))
    runs = {}
    for name in ("jira", "zendesk", "servicenow", "helpdesk"):
        runs[name] = jobs.sync_source(config, name, full=True)
        assert runs[name] is not None and runs[name].status == "finished"
    jira = runs["jira"]
    assert (jira.counts.added, jira.counts.failed) == (2, 3)
    assert Failure("jira.csv, line 15", "has 4 fields, the header has 18") in jira.errors
    assert "nothing was pruned" in jira.errors[-1].reason  # bad rows: prune waits
    assert runs["helpdesk"].counts.failed == 3 + 1  # three bad records, and no prune

    docs = chunks_by_doc(config)
    titles = {cs[0].title for cs in docs.values()}
    assert "4711: Refund for double charge" in titles and "T-1: Wi-Fi password for guests" in titles
    everything = "\n".join(c.text for cs in docs.values() for c in cs)
    assert "carl@example.com" not in everything and "Carl" not in everything

    pairs = TicketPairs(config.answer_log_url())
    stored = {(p.source, p.ticket_id): p for p in pairs.all()}
    pairs.close()
    assert set(stored) == {
        ("jira", "SUP-101"),
        ("zendesk", "4711"),
        ("servicenow", "INC0010001"),
        ("helpdesk", "T-1"),
    }
    assert stored[("servicenow", "INC0010001")].resolution.startswith("Removed the stale")

    again = jobs.sync_source(config, "jira")
    assert again is not None and again.counts.unchanged == 2 and again.counts.embedded == 0


# Faults --------------------------------------------------------------------------------------


def test_after_a_redis_flush_a_sync_fetches_and_embeds_nothing_and_still_prunes(
    forgetful, confluence, tmp_path
):
    state = confluence.state
    config = with_sources(forgetful, write_sources(tmp_path / "sources.yml", confluence.url))
    first = jobs.sync_source(config, "wiki", full=True)
    assert first is not None and first.counts.added == 5
    redis.Redis.from_url(forgetful.redis_url).flushall()  # or an eviction, or a new Redis
    gone = next(p for p in state.pages.values() if p.title == "Salary exceptions")
    gone.status = "trashed"
    requests_before = len(state.requests)

    after = jobs.sync_source(config, "wiki")

    assert after is not None and after.status == "finished", after
    assert (after.counts.embedded, after.counts.unchanged, after.counts.deleted) == (0, 4, 1)
    assert not [r for r in state.requests[requests_before:] if "cql=id+in" in r]
    assert f"wiki:page/{gone.id}" not in chunks_by_doc(config)


def test_an_export_caught_mid_write_prunes_nothing_and_a_whole_one_prunes_what_it_dropped(
    settings, tmp_path
):
    export = tmp_path / "tickets.jsonl"
    tickets = [
        {
            "ticket": f"T-{n}",
            "title": f"Printer {n} jams",
            "body": f"Printer {n} jams on A3 paper.",
            "state": "closed",
            "answer": "Use the manual feed tray.",
        }
        for n in range(1, 4)
    ]
    export.write_text("".join(json.dumps(t) + "\n" for t in tickets))
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n"
        "  desk:\n"
        "    type: tickets-jsonl\n"
        f"    path: {export}\n"
        "    url_template: https://help.example.com/t/{id}\n"
        "    access: {public: true}\n"
        "    mapping: {id: ticket, summary: title, description: body, status: state, "
        "resolution: answer}\n"
    )
    config = with_sources(settings, sources)
    first = jobs.sync_source(config, "desk")
    assert first is not None and first.counts.added == 3

    whole = export.read_text()
    export.write_text(whole[: len(whole) * 3 // 4])  # the export tool is still writing it
    caught = jobs.sync_source(config, "desk")

    assert caught is not None and caught.status == "finished" and caught.counts.deleted == 0
    assert any(e.item.startswith("tickets.jsonl, line 3") for e in caught.errors)
    assert "nothing was pruned" in caught.errors[-1].reason
    assert len(chunks_by_doc(config)) == 3

    export.write_text("".join(json.dumps(t) + "\n" for t in tickets[:2]))
    whole_again = jobs.sync_source(config, "desk")
    assert whole_again is not None and whole_again.counts.deleted == 1
    assert whole_again.errors == [] and len(chunks_by_doc(config)) == 2


def test_a_worker_host_killed_mid_batch_loses_and_duplicates_nothing(
    settings, settings_env, shared_database, tmp_path, monkeypatch
):
    with ConfluenceStandIn() as site:
        pages = generate_space(site.state, "GEN", 60)
        site.state.delay = 0.3  # slow answers, so that the kill lands in the middle
        sources = write_sources(tmp_path / "sources.yml", site.url, spaces="[GEN]")
        config = with_sources(
            settings,
            sources,
            sync_batch_size=5,
            sync_lock_seconds=5,
            database_url=shared_database,
        )
        common = {
            **settings_env,
            "KNOWHERE_DATABASE_URL": shared_database,
            "KNOWHERE_SOURCES_FILE": str(sources),
            "KNOWHERE_SYNC_BATCH_SIZE": "5",
            "KNOWHERE_SYNC_LOCK_SECONDS": "5",
            TOKEN_ENV: TOKEN,
        }
        for key, value in common.items():
            if key.startswith("KNOWHERE_"):
                monkeypatch.setenv(key, value)
        # Two hosts with nothing on disk in common: only the services are shared.
        hosts = [{**common, "KNOWHERE_HOME": str(tmp_path / f"host-{n}")} for n in (1, 2)]
        logs = [tmp_path / f"host-{n}.log" for n in (1, 2)]
        from workers.celery_app import make_app

        app = make_app()
        runs = compose.open_sync_runs(config)
        lock = redis.Redis.from_url(settings.redis_url)

        with (
            celery_worker("indexing", hosts[0], logs[0]) as doomed,
            celery_worker("indexing", hosts[1], logs[1]),
        ):
            first = app.send_task("knowhere.sync_source", args=["wiki"]).get(timeout=120)
            run_id = first["run"]
            assert first["batches"] == 12
            wait_for(lambda: _done_batches(runs, run_id) >= 2, timeout=180)
            # Kill host 1 just after it takes a batch, while the batch fetches its pages (the
            # stand-in holds each fetch 0.3 s): not after it was recorded and before the ack.
            taken = len(_batches_taken(logs[0]))
            wait_for(lambda: len(_batches_taken(logs[0])) > taken, timeout=120, interval=0.02)
            doomed.send_signal(signal.SIGKILL)  # no warm shutdown: the batch is lost mid-way
            doomed.wait(timeout=30)
            assert runs.get(run_id).status == "running"  # type: ignore[union-attr]

            # Host 2 takes every other batch; the killed one stays unacknowledged, so that
            # run never finishes: once its lock expires (KNOWHERE_SYNC_LOCK_SECONDS after its
            # last batch) the next run takes over, on the host that is left.
            wait_for(lambda: _done_batches(runs, run_id) == 11, timeout=180)
            wait_for(lambda: not lock.exists("knowhere:sync-lock:wiki"), timeout=60)
            second = app.send_task("knowhere.sync_source", args=["wiki"]).get(timeout=120)
            assert second["status"] == "started", second
            finished = steps.wait_for(runs, second["run"], timeout=300)
        assert finished is not None and finished.status == "finished", finished
        assert runs.get(run_id).status == "abandoned"  # type: ignore[union-attr]
        runs.close()

        docs = chunks_by_doc(config)
        assert set(docs) == {f"wiki:page/{p.id}" for p in pages}
        for chunks in docs.values():  # every chunk once: ids are deterministic
            indexes = sorted(c.chunk_index for c in chunks)
            assert indexes == list(range(len(indexes)))
        log = logs[0].read_text() + logs[1].read_text()
        assert TOKEN not in log
        del first, second
        gc.collect()


def _batches_taken(log: Path) -> list[str]:
    """The sync batches a worker's log says it received."""
    return re.findall(r"Task knowhere\.sync_batch\[([0-9a-f-]+)\] received", log.read_text())


def test_a_sync_fans_out_over_two_worker_hosts_that_share_only_the_services(
    settings, settings_env, shared_database, tmp_path, monkeypatch
):
    with ConfluenceStandIn() as site:
        pages = generate_space(site.state, "GEN", 40)
        site.state.delay = 0.2  # each batch's fetch takes a while: both hosts get work
        sources = write_sources(tmp_path / "sources.yml", site.url, spaces="[GEN]")
        config = with_sources(settings, sources, sync_batch_size=4, database_url=shared_database)
        common = {
            **settings_env,
            "KNOWHERE_DATABASE_URL": shared_database,
            "KNOWHERE_SOURCES_FILE": str(sources),
            "KNOWHERE_SYNC_BATCH_SIZE": "4",
            TOKEN_ENV: TOKEN,
        }
        for key, value in common.items():
            if key.startswith("KNOWHERE_"):
                monkeypatch.setenv(key, value)
        # Two hosts: nothing on disk in common (each its own KNOWHERE_HOME), only the services.
        hosts = [{**common, "KNOWHERE_HOME": str(tmp_path / f"host-{n}")} for n in (1, 2)]
        logs = [tmp_path / f"host-{n}.log" for n in (1, 2)]
        from workers.celery_app import make_app

        app = make_app()
        runs = compose.open_sync_runs(config)
        with (
            celery_worker("indexing", hosts[0], logs[0]),
            celery_worker("indexing", hosts[1], logs[1]),
        ):
            started = app.send_task("knowhere.sync_source", args=["wiki"]).get(timeout=120)
            finished = steps.wait_for(runs, started["run"], timeout=300)
        runs.close()

    assert finished is not None and finished.status == "finished", finished
    assert (finished.counts.added, finished.counts.failed) == (40, 0)
    for log in logs:  # both hosts indexed batches of the one run
        assert "knowhere.sync_batch[" in log.read_text() and "succeeded" in log.read_text()
    docs = chunks_by_doc(config)
    assert set(docs) == {f"wiki:page/{p.id}" for p in pages}
    for chunks in docs.values():
        indexes = sorted(c.chunk_index for c in chunks)
        assert indexes == list(range(len(indexes)))
    del started
    gc.collect()


def _done_batches(runs, run_id: str) -> int:
    from sqlalchemy import func, select

    from indexing.sync.runs import BatchRow

    with runs._session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    BatchRow.run_id == run_id, BatchRow.done.is_(True), BatchRow.number >= 0
                )
            )
        )


def test_beat_runs_each_source_on_its_schedule(tmp_path):
    from workers.celery_app import make_app

    sources = write_sources(tmp_path / "sources.yml", "https://acme.atlassian.net/wiki")
    schedule = make_app(Settings(sources_file=sources)).conf.beat_schedule
    assert schedule["sync-wiki-incremental"]["args"] == ["wiki", False]
    assert schedule["sync-wiki-full"]["args"] == ["wiki", True]
    assert str(schedule["sync-wiki-incremental"]["schedule"]).startswith("<crontab: */15 *")
    assert "train-embedder-when-due" in schedule

    broken = tmp_path / "broken.yml"
    broken.write_text("sources: [not, a, mapping]\n")
    schedule = make_app(Settings(sources_file=broken)).conf.beat_schedule
    assert list(schedule) == ["train-embedder-when-due", "clean-up-embedders"]  # still start


# The directory: identities and groups from Confluence, for every replica ---------------------


def test_groups_and_identities_come_from_confluence_and_a_removal_reaches_every_replica(
    settings, confluence, tmp_path
):
    state = confluence.state
    alice = {"accountId": "acc-alice", "email": "alice@example.com", "displayName": "Alice"}
    hanna = {"accountId": "acc-hanna", "displayName": "Hanna"}  # her e-mail is hidden
    mystery = {"accountId": "acc-mystery", "displayName": "Mystery"}  # no e-mail at all
    state.hidden_emails["acc-hanna"] = "hanna@example.com"
    state.groups = {"engineering": [alice, hanna, mystery], "hr": [alice]}
    bands = next(p for p in state.pages.values() if p.title == "Salary bands")
    bands.read_users = [{"accountId": "acc-hanna"}]  # Cloud lists restricted users by account id
    config = with_sources(
        settings,
        write_sources(tmp_path / "sources.yml", confluence.url),
        database_url=f"sqlite:///{tmp_path / 'shared.db'}",
    )
    env = bot_env(config, KNOWHERE_SOURCES_FILE=str(config.sources_file), **{TOKEN_ENV: TOKEN})
    assert jobs.sync_source(config, "wiki") is not None

    synced = knowhere(env, "sources", "directory", "wiki", "--json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert (report["people"], report["with_email"], report["groups"]) == (3, 2, 2)
    assert ["acc-mystery" in f["item"] for f in report["failures"]] == [True]  # reported once
    assert TOKEN not in synced.stdout + synced.stderr
    # A group that restrictions name but Confluence's group list lacks is reported, once.
    again = jobs.sync_source(config, "wiki")
    assert again is not None and [f.item for f in again.errors] == ["groups eng-managers"]

    # Two bot replicas, each with its own directory over the one shared database.
    first, second = compose.directory(config), compose.directory(config)
    second.ttl_s = 0.0
    found = first.principal("Hanna@Example.com")
    assert found.ids == ("acc-hanna",) and found.groups == ("engineering",)
    with compose.connect_weaviate(config) as client:
        service = compose.build_answer_service(client, config)
        answer = service.ask("What are the engineering salary bands?", Audience.of([found]))
        assert "wiki:page/" + bands.id in {c.doc_id for c in answer.citations}
        # The groups file alone does not know Hanna's account id: she would not read it.
        alone = Principal.of("hanna@example.com", ["engineering"])
        answer = service.ask("What are the engineering salary bands?", Audience.of([alone]))
        assert "wiki:page/" + bands.id not in {c.doc_id for c in answer.citations}
    assert first.principal("alice@example.com").groups == ("engineering", "hr")
    assert first.principal("nobody@example.com") == Principal.of("nobody@example.com")

    # Alice leaves hr in Confluence; after the next refresh no replica counts her in it.
    state.groups["hr"] = []
    assert jobs.sync_directory(config, "wiki").as_dict()["memberships"] == 3
    assert second.principal("alice@example.com").groups == ("engineering",)
    first.close()
    second.close()


def test_on_data_center_usernames_stand_for_addresses_of_the_email_domain(
    settings, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with ConfluenceStandIn(context="/confluence", cloud=False) as site:
        site.state.add_space("IT", "IT", readers_groups=["staff"])
        site.state.groups = {
            "staff": [{"username": "alice", "userKey": "k-alice"}, {"username": "bob"}],
            "hr": [{"username": "alice", "userKey": "k-alice"}],
        }
        sources = write_sources(
            tmp_path / "dc.yml",
            site.url,
            spaces="[IT]",
            deployment="datacenter",
            email_domain="example.com",
        )
        config = with_sources(settings, sources, database_url=f"sqlite:///{tmp_path / 'd.db'}")
        snapshot = jobs.sync_directory(config, "wiki")
    assert not snapshot.failures
    directory = compose.directory(config)
    alice = directory.principal("alice@example.com")
    assert alice.groups == ("hr", "staff") and set(alice.ids) == {"alice", "k-alice"}
    assert directory.principal("bob@example.com").groups == ("staff",)
    directory.close()
