"""Real services for the tests: a Weaviate and a Redis process on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from s3_store import ACCESS_KEY, SECRET_KEY, SeaweedProcess, find_weed_binary

from indexing import Settings
from indexing.infra.local_services import (
    RedisProcess,
    WeaviateProcess,
    find_redis_binary,
    find_weaviate_binary,
    free_port,
    free_port_block,
    start,
    wait_until_ready,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "kb"
TEST_MODEL = "all-MiniLM-L6-v2"
WEAVIATE_KEY = f"test-weaviate-{uuid.uuid4().hex}"  # the tests' Weaviate wants it on every call
ANSWER_KEY = f"test-answers-{uuid.uuid4().hex}"  # signs the bots' requests to answer workers


def _real_home() -> Path:
    return Path(os.environ.get("KNOWHERE_HOME", Path.home() / ".cache" / "knowhere"))


# Every test, and every process a test starts, shares one folder of OpenVINO conversions:
# the small model is converted once, not once per test's home.
os.environ.setdefault("KNOWHERE_OPENVINO_CACHE", str(_real_home() / "models" / "openvino"))


def _weaviate_binary() -> Path:
    explicit = os.environ.get("KNOWHERE_WEAVIATE_BIN")
    return find_weaviate_binary(_real_home(), Path(explicit) if explicit else None)


@contextlib.contextmanager
def running(name: str, server, env: dict[str, str] | None, data: Path) -> Iterator[None]:
    """Run `server` until the block ends; fail with its log if it never becomes ready."""
    log = data / f"{name.lower()}.log"
    process = start(server.command(), log, env=env)
    try:
        wait_until_ready(name, server.url, server.is_ready, process, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="session")
def weaviate_server(tmp_path_factory) -> Iterator[WeaviateProcess]:
    data = tmp_path_factory.mktemp("weaviate")
    server = WeaviateProcess.with_cluster_ports(
        _weaviate_binary(), data, free_port(), free_port(), free_port_block(4), WEAVIATE_KEY
    )
    with running("Weaviate", server, server.env(), data):
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisProcess]:
    data = tmp_path_factory.mktemp("redis")
    server = RedisProcess(find_redis_binary(), data, free_port())
    with running("Redis", server, None, data):
        yield server


@pytest.fixture
def settings(weaviate_server, redis_server, tmp_path) -> Settings:
    """Settings for one test: its own collection, the real services, the small model."""
    return Settings(
        home=tmp_path / "home",
        weaviate_http_port=weaviate_server.http_port,
        weaviate_grpc_port=weaviate_server.grpc_port,
        redis_url=redis_server.url,
        weaviate_api_key=SecretStr(WEAVIATE_KEY),
        answer_signing_key=SecretStr(ANSWER_KEY),
        collection=f"Test_{uuid.uuid4().hex[:12]}",
        embed_model=TEST_MODEL,
        hybrid_alpha=0.8,
    )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[SeaweedProcess]:
    """A real S3-compatible server (SeaweedFS) with a `models` bucket."""
    import time

    import s3fs

    data = tmp_path_factory.mktemp("seaweedfs")
    server = SeaweedProcess.on_free_ports(find_weed_binary(_real_home()), data)
    with running("SeaweedFS", server, None, data):
        fs = s3fs.S3FileSystem(
            key=ACCESS_KEY, secret=SECRET_KEY, client_kwargs={"endpoint_url": server.url}
        )
        for attempt in range(120):  # the S3 gateway answers before its filer is ready
            try:
                fs.mkdir("models")
                break
            except Exception:
                if attempt == 119:
                    raise
                time.sleep(0.5)
        yield server


@pytest.fixture
def s3_credentials(s3_server, monkeypatch) -> dict[str, str]:
    """The S3 server's identity as the AWS variables every host reads (also for subprocesses)."""
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def shared_database(postgres_url) -> str:
    """A fresh PostgreSQL database of this test's own: what workers on many hosts share
    (they refuse SQLite)."""
    import psycopg

    server, _ = postgres_url.rsplit("/", 1)
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture
def forgetful(settings, tmp_path) -> Iterator[Settings]:
    """`settings` with a Redis of this test's own, that the test may flush."""
    data = tmp_path / "own-redis"
    data.mkdir()
    server = RedisProcess(find_redis_binary(), data, free_port())
    with running("Redis", server, None, data):
        yield settings.model_copy(update={"redis_url": server.url})


@pytest.fixture
def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for CLI and worker subprocesses."""
    from processes import bot_env

    return bot_env(settings, KNOWHERE_WEAVIATE_BIN=str(_weaviate_binary()))


@pytest.fixture
def knowledge_base(tmp_path) -> Path:
    """A fresh copy of the sample knowledge base that a test may edit."""
    target = tmp_path / "kb"
    shutil.copytree(SAMPLES, target)
    return target


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: scripts/bootstrap installs it")
    return str(found)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on a free loopback port, with an empty database."""
    import subprocess
    import tempfile
    import time

    import psycopg

    data = Path(tempfile.mkdtemp(prefix="knowhere-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = data / "cluster"
    subprocess.run(
        [
            *as_user,
            _postgres_bin("initdb"),
            "-D",
            str(cluster),
            "-U",
            "knowhere",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(
        [
            *as_user,
            _postgres_bin("postgres"),
            "-D",
            str(cluster),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(data),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    admin = f"postgresql://knowhere@127.0.0.1:{port}/postgres"
    try:
        for _ in range(100):
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE knowhere_test")
                break
            except psycopg.OperationalError:
                if server.poll() is not None:
                    raise RuntimeError((data / "server.log").read_text()) from None
                time.sleep(0.2)
        yield f"postgresql+psycopg://knowhere@127.0.0.1:{port}/knowhere_test"
    finally:
        subprocess.run(
            [*as_user, _postgres_bin("pg_ctl"), "-D", str(cluster), "stop", "-m", "fast"],
            capture_output=True,
        )
        server.wait(timeout=60)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def company_settings(weaviate_server, redis_server, tmp_path_factory) -> Settings:
    """Settings for a bot: the sample knowledge base plus a restricted HR page and a page
    with an injection attempt (tests/fixtures/kb-extra), indexed; groups; an answer log."""
    from indexing import jobs

    fixtures = Path(__file__).parent / "fixtures"
    home = tmp_path_factory.mktemp("bot-home")
    kb = home / "kb"
    shutil.copytree(SAMPLES, kb)
    shutil.copytree(fixtures / "kb-extra", kb, dirs_exist_ok=True)
    settings = Settings(
        home=home,
        weaviate_http_port=weaviate_server.http_port,
        weaviate_grpc_port=weaviate_server.grpc_port,
        redis_url=redis_server.url,
        weaviate_api_key=SecretStr(WEAVIATE_KEY),
        collection=f"Bot_{uuid.uuid4().hex[:12]}",
        embed_model=TEST_MODEL,
        groups_file=fixtures / "groups.yml",
        database_url=f"sqlite:///{home / 'answers.db'}",
    )
    jobs.index_folder(settings, kb)
    return settings
