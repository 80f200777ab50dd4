"""Nobody reads what they may not: a randomized proof over generated Confluence worlds.

Worlds of users (some known by account id only), groups, spaces and nested page
restrictions are served by the Confluence stand-in and synced for real (pages, permissions,
and the directory of groups and identities). Then hypothesis asks as random audiences
through every path that shows text: the answer and its citations, the "closest sources" of a
not-found answer, a follow-up in a thread, *Share in channel*, and the Teams rendering; and
every page whose secret word shows up must be readable by every member of the audience under
Confluence's rule (written independently in `standins/permission_worlds.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standins.confluence_standin import EMAIL, TOKEN, ConfluenceStandIn
from standins.permission_worlds import TOPICS, World, audit, generate_world

from indexing import Answer, Audience, ChunkStore, Turn, compose, jobs, readable_by

TOKEN_ENV = "PROOF_CONFLUENCE_TOKEN"
SEEDS = (11, 23, 37)
CASES = 1_000


class Proof:
    """The synced worlds and what the cases found."""

    def __init__(self, worlds: dict[int, World], service, store: ChunkStore, directory) -> None:
        self.worlds, self.service, self.store, self.directory = worlds, service, store, directory
        self.cases = 0
        self.leaks: list[str] = []
        self.restricted_shown = 0  # restricted passages shown to someone allowed (not vacuous)

    def check(self, world: World, members, answer: Answer, path: str) -> None:
        self.cases += 1
        leaked, rightly = audit(world, members, answer)
        self.leaks += [f"{path}: page {page_id} shown to {members}" for page_id in leaked]
        self.restricted_shown += rightly


@pytest.fixture(scope="module")
def proof(weaviate_server, redis_server, tmp_path_factory) -> Iterator[Proof]:
    from conftest import ANSWER_KEY, TEST_MODEL, WEAVIATE_KEY
    from pydantic import SecretStr

    from indexing import Settings

    home = tmp_path_factory.mktemp("proof")
    mp = pytest.MonkeyPatch()
    mp.setenv(TOKEN_ENV, TOKEN)
    with ConfluenceStandIn() as site:
        worlds = {seed: generate_world(site.state, seed) for seed in SEEDS}
        keys = ", ".join(key for w in worlds.values() for key in w.spaces)
        sources = home / "sources.yml"
        sources.write_text(
            f"sources:\n  wiki:\n    type: confluence\n    url: {site.url}\n    email: {EMAIL}\n"
            f"    token_env: {TOKEN_ENV}\n    spaces: [{keys}]\n"
        )
        config = Settings(
            home=home,
            weaviate_http_port=weaviate_server.http_port,
            weaviate_grpc_port=weaviate_server.grpc_port,
            weaviate_api_key=SecretStr(WEAVIATE_KEY),
            answer_signing_key=SecretStr(ANSWER_KEY),
            redis_url=redis_server.url,
            collection="Proof",
            embed_model=TEST_MODEL,
            sources_file=sources,
            database_url=f"sqlite:///{home / 'proof.db'}",
            min_relevance=0.2,
        )
        run = jobs.sync_source(config, "wiki")
        assert run is not None and run.status == "finished" and not run.errors, run
        jobs.sync_directory(config, "wiki")
    mp.undo()
    client = compose.connect_weaviate(config)
    service = compose.build_answer_service(client, config)
    result = Proof(
        worlds, service, ChunkStore(client, config.collection), compose.directory(config)
    )
    yield result
    client.close()


@settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(SEEDS),
    people=st.lists(st.integers(0, 8), min_size=1, max_size=4, unique=True),
    topic=st.sampled_from(TOPICS),
    path=st.sampled_from(["answer", "not found", "follow-up", "share"]),
    channel=st.lists(st.integers(0, 8), min_size=1, max_size=5, unique=True),
)
def test_no_audience_ever_sees_a_passage_it_may_not_read(proof, seed, people, topic, path, channel):
    world = proof.worlds[seed]

    def members(indexes):  # index 8: a stranger, unknown to Confluence
        return [world.users[i] if i < 8 else None for i in indexes]

    def audience(indexes):
        emails = [
            world.users[i].email if i < 8 else f"stranger{seed}@else.example" for i in indexes
        ]
        return Audience.of([proof.directory.principal(e) for e in emails])

    asked = audience(people)
    question = f"What is the {topic} policy?"
    if path == "not found":
        question = "zqxj vlorp wumbat frizzle?"
    answer = proof.service.ask(question, asked)
    proof.check(world, members(people), answer, path)
    if path == "follow-up":
        history = [Turn("user", question), Turn("assistant", answer.text)]
        follow = proof.service.ask("and who do I ask about it?", asked, history)
        proof.check(world, members(people), follow, path)
    if path == "share":
        given_ids = list(
            dict.fromkeys([*answer.retrieved, *(c.chunk_id for c in answer.citations)])
        )
        if readable_by(proof.store, given_ids, audience(channel)):  # the bot would post it
            proof.check(world, members(channel), answer, "share")


def test_over_a_thousand_cases_nothing_leaked_and_people_read_what_they_may(proof):
    print(
        f"access proof: {proof.cases} cases, {proof.restricted_shown} restricted passages "
        f"shown to allowed readers, {len(proof.leaks)} leaks"
    )
    assert proof.cases >= CASES
    assert proof.leaks == []
    assert proof.restricted_shown > 50  # the rule lets people read their restricted pages
