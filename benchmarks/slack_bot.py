"""The Slack bot under load, end to end over HTTP, in offline (extractive) mode.

The bot runs as its own process (`knowhere-bot slack`) on the zaragoza corpus, against the
Slack Web API stand-in from `tests/`. Signed `app_mention` events are posted to it:

1. then a burst of `--burst` concurrent events: acknowledgement latency (HTTP response time,
   target p99 ≤ 100 ms) and time to the "Searching…" placeholder (target p95 ≤ 1 s);
2. first, the test questions one at a time (cold: no passage seen before): time to the full
   answer (`chat.update`, target p95 ≤ 3 s), and the share of answers whose citations include
   a passage that the qrels mark relevant (target ≥ 90 %), read back from the answer log.

With every answer feature on (unless `--plain`): escalation (*Still need help*), verified
answers (an experts group, and `--verified` of the sequential answers verified before the
burst, so the burst's questions are matched against them and some get one first), the
per-user rate limit and answer queue (counted in Redis, limits high enough to turn nobody
away), markdown blocks and feedback buttons, the AI app listeners.

    knowhere services up
    python benchmarks/slack_bot.py [--model all-mpnet-base-v2] [--burst 50] [--questions 0]
        [--verified 20] [--plain]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
from common import ZARAGOZA, machine, save

from indexing import AnswerLog, ChunkStore, Settings, compose, verify_answer
from indexing.answers.log import AnswerRow, PassageRow
from indexing.evaluation.beir import load_beir
from indexing.evaluation.run import eval_collection_name
from indexing.infra.local_services import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from processes import bot_env, running_bot  # noqa: E402
from standins.slack_standin import BOT_USER, SlackStandIn, event_body, signed_headers  # noqa: E402

SECRET = "bench-signing-secret"
RUN = uuid.uuid4().hex[:8]  # event ids are remembered in Redis: fresh ones per run
CHANNEL = "CBENCH"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
    }


def mention(slack: SlackStandIn, question: str, user: str) -> dict:
    return {
        "type": "app_mention",
        "channel": CHANNEL,
        "user": user,
        "text": f"<@{BOT_USER}> {question}",
        "ts": slack.state.next_ts(),
    }


async def send(client: httpx.AsyncClient, url: str, event: dict, event_id: str) -> float:
    body = event_body(event, event_id)
    started = time.monotonic()
    response = await client.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body)
    )
    response.raise_for_status()
    return started


def first_call(slack: SlackStandIn, method: str, key: str, value: str) -> float | None:
    for call in slack.state.calls_to(method):
        if call.args.get(key) == value:
            return call.at
    return None


def wait(predicate, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found is not None:
            return found
        time.sleep(0.02)
    raise TimeoutError


def placeholder_ts(slack: SlackStandIn, thread: str) -> str | None:
    for message in list(slack.state.messages.get(CHANNEL, [])):
        if message.get("thread_ts") == thread and message.get("bot_id"):
            return message["ts"]
    return None


async def burst(slack: SlackStandIn, url: str, questions: list[str]) -> dict:
    """All events signed beforehand, then sent at once on separate connections."""
    events = [mention(slack, q, "UASKER") for q in questions]
    requests = []
    for i, event in enumerate(events):
        body = event_body(event, f"EvB{RUN}{i}")
        requests.append((body, signed_headers(SECRET, body)))
    acks: list[float] = [0.0] * len(events)
    starts: list[float] = [0.0] * len(events)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Event()

        async def one(i: int) -> None:
            body, headers = requests[i]
            await gate.wait()
            starts[i] = time.monotonic()
            async with session.post(f"{url}/slack/events", data=body, headers=headers) as resp:
                await resp.read()
                resp.raise_for_status()
            acks[i] = time.monotonic() - starts[i]

        tasks = [asyncio.create_task(one(i)) for i in range(len(events))]
        await asyncio.sleep(0.1)
        gate.set()
        await asyncio.gather(*tasks)
    placeholders, answers = [], []
    for event, started in zip(events, starts, strict=True):
        posted = wait(lambda e=event: first_call(slack, "chat.postMessage", "thread_ts", e["ts"]))
        placeholders.append(posted - started)
        ts = wait(lambda e=event: placeholder_ts(slack, e["ts"]))
        updated = wait(lambda t=ts: first_call(slack, "chat.update", "ts", t))
        answers.append(updated - started)
    return {
        "ack": summary(acks),
        "placeholder": summary(placeholders),
        "answer_under_burst_warm_cache": summary(answers),
    }


async def sequential(slack: SlackStandIn, url: str, questions: list[tuple[str, str]]) -> tuple:
    latencies, threads = [], {}
    async with httpx.AsyncClient(timeout=30) as client:
        for i, (qid, question) in enumerate(questions):
            event = mention(slack, question, "UASKER")
            started = await send(client, url, event, f"EvS{RUN}{uuid.uuid4().hex[:6]}{i}")
            ts = wait(lambda e=event: placeholder_ts(slack, e["ts"]))
            updated = wait(lambda t=ts: first_call(slack, "chat.update", "ts", t))
            latencies.append(updated - started)
            threads[event["ts"]] = qid
    return latencies, threads


def cited_relevant(db: str, threads: dict[str, str], qrels: dict[str, dict]) -> dict:
    from sqlalchemy import select

    log = AnswerLog(db)
    hits = found = 0
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(AnswerRow.thread, AnswerRow.found, PassageRow.doc_id).join(
                PassageRow, PassageRow.answer_id == AnswerRow.id
            )
        ).all()
    cited: dict[str, set[str]] = {}
    answered: dict[str, bool] = {}
    for thread, was_found, doc_id in rows:
        cited.setdefault(thread, set()).add(doc_id.split(":", 1)[1])
        answered[thread] = was_found
    for thread, qid in threads.items():
        hits += bool(cited.get(thread, set()) & set(qrels[qid]))
        found += answered.get(thread, False)
    log.close()
    return {
        "answers": len(threads),
        "cites_relevant_share": round(hits / len(threads), 3),
        "found_share": round(found / len(threads), 3),
    }


def verify_some(settings: Settings, db: str, collection: str, count: int) -> int:
    """An expert verifies the first `count` found answers of the log (as the bot would)."""
    log = AnswerLog(db)
    answers = compose.open_verified_answers(settings)
    done = 0
    with log.engine.connect() as conn:
        from sqlalchemy import select

        ids = conn.execute(select(AnswerRow.id).where(AnswerRow.found)).scalars().all()
    with compose.connect_weaviate(settings) as client:
        store = ChunkStore(client, collection)
        for answer_id in ids[:count]:
            stored = log.get(answer_id)
            if stored is not None:
                verify_answer(answers, store, stored, stored.answer.text, "UEXPERT", "Ex", 180)
                done += 1
    log.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--questions", type=int, default=0, help="0 = every test question")
    parser.add_argument("--verified", type=int, default=20, help="answers verified first")
    parser.add_argument("--plain", action="store_true", help="no escalation, no experts")
    args = parser.parse_args()

    settings = Settings(embed_model=args.model)
    dataset = load_beir(ZARAGOZA, "test")
    collection = eval_collection_name(dataset.name, args.model)
    with compose.connect_weaviate(
        settings
    ) as client:  # the corpus, indexed once (unchanged: nothing to do)
        embedder = compose.build_embedder(settings)
        compose.build_indexer(client, settings, dataset.name, embedder, collection).index(
            dataset.corpus, prune=True
        )
    questions = [(qid, q) for qid, q in dataset.queries.items() if dataset.qrels.get(qid)]
    dev = load_beir(ZARAGOZA, "dev")
    warm_up = [(qid, q) for qid, q in dev.queries.items() if dev.qrels.get(qid)][:3]
    bursting = [q for _, q in (questions * (args.burst // len(questions) + 1))[: args.burst]]
    if args.questions:
        questions = questions[: args.questions]

    work = Path(tempfile.mkdtemp(prefix="knowhere-bench-bot-"))
    db = f"sqlite:///{work / 'answers.db'}"
    features = (
        {}
        if args.plain
        else {
            "KNOWHERE_ESCALATION_SLACK_CHANNEL": "CSUPPORT",
            "KNOWHERE_EXPERTS_GROUP": "experts",
        }
    )
    verified = 0
    with SlackStandIn() as slack:
        slack.state.add_user("UASKER", "asker@example.com")
        slack.state.channels[CHANNEL] = ["UASKER", BOT_USER]
        env = bot_env(
            settings.model_copy(update={"collection": collection, "database_url": db}),
            KNOWHERE_ANSWER_MODE="extractive",
            # One asker sends every question: measure load, not the per-user rate limit.
            KNOWHERE_USER_QUESTIONS_PER_MINUTE="100000",
            KNOWHERE_ANSWER_QUEUE="1000",
            KNOWHERE_SLACK_BOT_TOKEN="xoxb-test-token",
            KNOWHERE_SLACK_SIGNING_SECRET=SECRET,
            KNOWHERE_SLACK_API_URL=slack.api_url,
            **features,
        )
        args_ = ["slack", "--port", str(free_port())]
        with running_bot(args_, env, work / "bot.log") as url:
            asyncio.run(sequential(slack, url, warm_up))  # load everything once
            # One at a time first: the extractive answer caches sentence vectors, so these
            # answers meet every passage for the first time (cold).
            latencies, threads = asyncio.run(sequential(slack, url, questions))
            if features:
                answering = settings.model_copy(update={"database_url": db})
                verified = verify_some(answering, db, collection, args.verified)
            loaded = asyncio.run(burst(slack, url, bursting))
            served = sum(
                1
                for call in slack.state.calls_to("chat.update")
                if "Verified by" in str(call.args.get("blocks", ""))
            )
    result = {
        "model": args.model,
        "mode": "extractive (offline)",
        "burst_events": args.burst,
        "features": "plain" if args.plain else "escalation, experts, rate limit, AI app",
        "verified_answers": verified,
        "verified_answers_served": served,
        **loaded,
        "answer_sequential": summary(latencies),
        "citations": cited_relevant(db, threads, dataset.qrels),
        "machine": machine(),
    }
    save(f"slack_bot_{args.model}", result)


if __name__ == "__main__":
    main()
