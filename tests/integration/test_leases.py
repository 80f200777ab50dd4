"""Leases that hold: a sync's lock, the renewer under a Redis outage, a switch's closed gate.

An SRE's story: a big space takes longer to list than the lock lives, Redis fails over for a
moment, a switch runs longer than its flag's TTL; none of them lets a second writer in, and a
lease that really is lost stops the work that held it.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from standins.confluence_standin import TOKEN, ConfluenceStandIn, generate_space
from test_sources import TOKEN_ENV, with_sources, write_sources

from indexing import compose, jobs
from indexing.errors import Busy, KnowhereError
from indexing.infra.leases import LeaseLost, renewing
from indexing.store.write_gate import GateTimeout, WriteGate
from indexing.sync import steps


def test_a_redis_hiccup_does_not_lose_a_lease_but_a_refused_renewal_does():
    answers = iter([RedisConnectionError("failover"), RedisConnectionError("failover"), True])
    calls = []

    def flaky() -> bool:
        calls.append(time.monotonic())
        answer = next(answers, True)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with renewing(flaky, 0.05, "test") as lease:
        time.sleep(0.4)
        assert not lease.lost
        lease.check()
    assert len(calls) >= 3  # retried after each error

    with renewing(lambda: False, 0.05, "test") as lease:
        time.sleep(0.2)
        assert lease.lost
        with pytest.raises(LeaseLost, match="test lease was lost"):
            lease.check()


def test_listing_a_space_longer_than_the_lock_lives_keeps_other_runs_out(
    settings, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with ConfluenceStandIn() as site:
        generate_space(site.state, "GEN", 8)
        site.state.listing_delay = 4.0  # the listing alone outlives the 2 s lock twice over
        sources = write_sources(tmp_path / "sources.yml", site.url, spaces="[GEN]")
        config = with_sources(settings, sources, sync_lock_seconds=2)
        result = {}
        first = threading.Thread(target=lambda: result.update(run=jobs.sync_source(config, "wiki")))
        first.start()
        while not site.state.count("GET /wiki/rest/api/content?"):
            time.sleep(0.05)
        time.sleep(3.0)  # past the lock's TTL, still planning

        with pytest.raises(Busy, match="already running"):
            jobs.sync_source(config, "wiki")
        first.join(timeout=120)

    assert result["run"] is not None and result["run"].status == "finished"
    assert result["run"].counts.added == 8


def test_a_batch_of_a_run_this_database_never_saw_is_refused_loudly(settings, tmp_path):
    config = with_sources(settings, write_sources(tmp_path / "sources.yml", "http://unused"))
    context = compose.open_sync_context(config, "jira")
    try:
        with pytest.raises(KnowhereError, match="unknown to this worker's database"):
            steps.run_batch(context, None, "run-planned-elsewhere", 0, {"ids": ["x"]})  # type: ignore[arg-type]
    finally:
        context.close()


def test_a_switch_longer_than_its_flag_lives_keeps_writers_out_until_it_is_done(settings):
    client = redis.Redis.from_url(settings.redis_url)
    gate = WriteGate(client, f"gate-{settings.collection}")
    started = threading.Event()
    done = threading.Event()

    def switch() -> None:
        with gate.closed(hold_s=1):
            started.set()
            time.sleep(2.5)  # the flag's TTL passes twice
        done.set()

    switching = threading.Thread(target=switch)
    switching.start()
    started.wait(timeout=10)
    time.sleep(1.5)
    with pytest.raises(GateTimeout, match="stayed closed"), gate.writing(wait_s=0.5):
        pass
    switching.join(timeout=10)
    assert done.is_set()
    with gate.writing(wait_s=0.5):  # open again
        pass
