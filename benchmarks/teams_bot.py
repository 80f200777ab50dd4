"""The Teams bot under load: 20 conversations asking at once, offline (extractive) answers.

The bot runs as its own process (`knowhere-bot teams`, anonymous development mode) on the
zaragoza corpus; the Bot Connector stand-in from `tests/` records what it sends. Each round,
`--conversations` 1:1 chats post a zaragoza test question at the same moment; measured from
the moment each request is sent: the HTTP response (the acknowledgement: the answer comes
later, in a proactive turn; Bot Framework allows 15 s), the first typing indicator (target
p95 ≤ 1 s) and the answer message (target p95 ≤ 3 s).

    knowhere services up
    python benchmarks/teams_bot.py [--model all-mpnet-base-v2] [--conversations 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from common import ZARAGOZA, machine, save
from slack_bot import summary

from indexing import Settings, compose
from indexing.evaluation.beir import load_beir
from indexing.evaluation.run import eval_collection_name
from indexing.infra.local_services import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from processes import bot_env, running_bot  # noqa: E402
from standins.teams_standin import TeamsStandIn, activity  # noqa: E402


async def round_of(teams: TeamsStandIn, url: str, questions: list[str], tag: str) -> tuple:
    bodies = []
    for i, question in enumerate(questions):
        user = teams.state.members[f"29:user{i}"]
        bodies.append(activity(teams.service_url, f"a:{tag}-chat{i}", user, question))
    starts: dict[str, float] = {}
    acks: list[float] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Event()

        async def one(body: dict) -> None:
            await gate.wait()
            starts[body["id"]] = time.monotonic()
            async with session.post(f"{url}/api/messages", json=body) as response:
                await response.read()
                response.raise_for_status()
            acks.append(time.monotonic() - starts[body["id"]])

        tasks = [asyncio.create_task(one(b)) for b in bodies]
        await asyncio.sleep(0.1)
        gate.set()
        await asyncio.gather(*tasks)
    typing, answers = [], []
    for body in bodies:
        deadline = time.monotonic() + 300
        while True:  # the answer is sent after the request was acknowledged
            sent = [s for s in list(teams.state.sent) if s.reply_to == body["id"]]
            if any(s.activity["type"] == "message" for s in sent):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to {body['id']}")
            await asyncio.sleep(0.02)
        first_typing = min(s.at for s in sent if s.activity["type"] == "typing")
        answer = min(s.at for s in sent if s.activity["type"] == "message")
        typing.append(first_typing - starts[body["id"]])
        answers.append(answer - starts[body["id"]])
    return acks, typing, answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--answer-threads", type=int, default=1)
    args = parser.parse_args()

    dataset = load_beir(ZARAGOZA, "test")
    work = Path(tempfile.mkdtemp(prefix="knowhere-bench-teams-"))
    settings = Settings(
        embed_model=args.model,
        collection=eval_collection_name(dataset.name, args.model),
        database_url=f"sqlite:///{work / 'answers.db'}",
    )
    with compose.connect_weaviate(
        settings
    ) as client:  # the corpus, indexed once (unchanged: nothing to do)
        embedder = compose.build_embedder(settings)
        compose.build_indexer(client, settings, dataset.name, embedder, settings.collection).index(
            dataset.corpus, prune=True
        )
    questions = [q for qid, q in dataset.queries.items() if dataset.qrels.get(qid)]
    dev = load_beir(ZARAGOZA, "dev")
    warm_up = [q for qid, q in dev.queries.items() if dev.qrels.get(qid)][:2]

    teams = TeamsStandIn()
    for i in range(args.conversations):
        teams.state.add_member(f"29:user{i}", f"User{i}", f"user{i}@example.com")
    env = bot_env(
        settings,
        KNOWHERE_TEAMS_ANONYMOUS="true",
        KNOWHERE_ANSWER_MODE="extractive",
        # One asker sends every question: measure load, not the per-user rate limit.
        KNOWHERE_USER_QUESTIONS_PER_MINUTE="100000",
        KNOWHERE_ANSWER_QUEUE="1000",
        KNOWHERE_ANSWER_THREADS=str(args.answer_threads),
    )
    acks: list[float] = []
    typing: list[float] = []
    answers: list[float] = []
    try:
        with running_bot(["teams", "--port", str(free_port())], env, work / "bot.log") as url:
            asyncio.run(round_of(teams, url, warm_up, "warmup"))
            for r in range(args.rounds):
                start = (r * args.conversations) % len(questions)
                batch = (questions * 2)[start : start + args.conversations]
                k, t, a = asyncio.run(round_of(teams, url, batch, f"r{r}"))
                acks += k
                typing += t
                answers += a
    finally:
        teams.close()
    save(
        f"teams_bot_{args.model}",
        {
            "model": args.model,
            "mode": "extractive (offline)",
            "concurrent_conversations": args.conversations,
            "rounds": args.rounds,
            "answer_threads": args.answer_threads,
            "acknowledgement": summary(acks),
            "first_typing": summary(typing),
            "answer": summary(answers),
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
