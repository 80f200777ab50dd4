"""Bots (`knowhere-bot …`) as their own processes, for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexing import Settings


def bot_env(settings: Settings, **extra: str) -> dict[str, str]:
    """`settings` as KNOWHERE_* variables (and nothing else of ours) for a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWHERE_")}
    env.update(
        KNOWHERE_HOME=str(settings.home),
        KNOWHERE_WEAVIATE_HTTP_PORT=str(settings.weaviate_http_port),
        KNOWHERE_WEAVIATE_GRPC_PORT=str(settings.weaviate_grpc_port),
        KNOWHERE_REDIS_URL=settings.redis_url,
        KNOWHERE_COLLECTION=settings.collection,
        KNOWHERE_EMBED_MODEL=settings.embed_model,
    )
    if settings.weaviate_api_key:
        env["KNOWHERE_WEAVIATE_API_KEY"] = settings.weaviate_api_key.get_secret_value()
    if settings.answer_signing_key:
        env["KNOWHERE_ANSWER_SIGNING_KEY"] = settings.answer_signing_key.get_secret_value()
    if settings.groups_file:
        env["KNOWHERE_GROUPS_FILE"] = str(settings.groups_file)
    if settings.database_url:
        env["KNOWHERE_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


def knowhere(env: dict[str, str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The `knowhere` CLI as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "indexing.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.1) -> Any:
    """The predicate's first truthy value, polled every `interval` seconds until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError("timed out waiting")


@contextlib.contextmanager
def running_bot(
    args: list[str], env: dict[str, str], log_path: Path, module: str = "bot.cli"
) -> Iterator[str]:
    """The bot's (or another server's: `module`) base URL once /healthz answers; its log is
    shown if it never does."""
    port = args[args.index("--port") + 1]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{module} did not start:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextlib.contextmanager
def celery_worker(
    queue: str, env: dict[str, str], log_path: Path, processes: int = 0
) -> Iterator[subprocess.Popen]:
    """A real Celery worker process consuming `queue` (the solo pool; with `processes`, the
    prefork pool of that many), once it says it is ready (or has exited: a worker that refuses
    to start), stopped afterwards. Waiting matters with several workers: one still importing
    on a cold machine would get none of the work."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                *(
                    ["--pool", "prefork", "--concurrency", str(processes)]
                    if processes
                    else ["--pool", "solo"]
                ),
                "--queues",
                queue,
                "--loglevel",
                "INFO",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: process.poll() is not None or " ready." in log_path.read_text(),
                timeout=180,
            )
            yield process
        finally:
            process.terminate()
            process.wait(timeout=60)
