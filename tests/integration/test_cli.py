"""The `knowhere` command as a user runs it: index, search, ask, eval, services, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from processes import knowhere

from indexing import compose
from indexing.infra.local_services import free_port, free_port_block, port_open

BEIR = """\
{"_id": "d1", "title": "VPN", "text": "Keys for the WireGuard VPN rotate every 90 days."}
{"_id": "d2", "title": "Leave", "text": "Employees have 28 days of paid vacation per year."}
{"_id": "d3", "title": "Laptops", "text": "Report a stolen laptop to security within one hour."}
"""
QUERIES = """\
{"_id": "q1", "text": "How often do VPN keys rotate?"}
{"_id": "q2", "text": "How many vacation days do I get?"}
{"_id": "q3", "text": "My laptop was stolen, who do I tell?"}
"""


def test_index_then_search_and_ask_from_the_command_line(settings_env, knowledge_base):
    indexed = knowhere(settings_env, "index", str(knowledge_base), "--json")
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] == 7

    found = knowhere(settings_env, "search", "WireGuard handshake never completes", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["doc_id"] == "kb:it/vpn.md"

    asked = knowhere(settings_env, "ask", "How many vacation days do I get per year?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "28 days" in answer["answer"]
    assert "[1]" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == "kb:hr/vacation.md"
    assert answer["citations"][0]["url"].startswith("file://")
    assert answer["generator"] == "extractive"


def test_ask_prints_the_answer_with_numbered_sources(settings_env, knowledge_base):
    knowhere(settings_env, "index", str(knowledge_base))

    asked = knowhere(settings_env, "ask", "Who do I tell when my laptop is stolen?")

    assert asked.returncode == 0, asked.stderr
    assert "security@northwind.example" in asked.stdout
    assert "Sources:" in asked.stdout and "[1] Laptops and equipment" in asked.stdout


def test_eval_reports_ranking_metrics_as_json(settings_env, tmp_path):
    dataset = tmp_path / "tiny"
    (dataset / "qrels").mkdir(parents=True)
    (dataset / "corpus.jsonl").write_text(BEIR)
    (dataset / "queries.jsonl").write_text(QUERIES)
    (dataset / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n"
    )

    result = knowhere(settings_env, "eval", str(dataset), "--split", "test")

    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["n_queries"] == 3
    assert metrics["ndcg@10"] == metrics["mrr@10"] == metrics["recall@10"] == 1.0
    again = json.loads(knowhere(settings_env, "eval", str(dataset)).stdout)
    assert again["corpus_indexed"]["embedded"] == 0


SERVICES = [
    "vermilion",
    "chartreuse",
    "cerulean",
    "magenta",
    "ochre",
    "indigo",
    "saffron",
    "teal",
    "umber",
    "crimson",
    "sepia",
    "viridian",
]


def test_eval_chooses_the_collections_alpha_on_dev_and_keeps_it(settings, settings_env, tmp_path):
    dataset = tmp_path / "services"
    (dataset / "qrels").mkdir(parents=True)
    (dataset / "corpus.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "_id": name,
                    "title": f"The {name} service",
                    "text": f"Restart the {name} service with its runbook; page its on-call.",
                }
            )
            + "\n"
            for name in SERVICES
        )
    )
    (dataset / "queries.jsonl").write_text(
        "".join(
            json.dumps({"_id": name, "text": f"how do I restart {name}?"}) + "\n"
            for name in SERVICES
        )
    )
    rows = "".join(f"{name}\t{name}\t1\n" for name in SERVICES)
    for split in ("dev", "test"):
        (dataset / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)

    tuned = json.loads(knowhere(settings_env, "eval", str(dataset), "--tune-on", "dev").stdout)
    later = json.loads(knowhere(settings_env, "eval", str(dataset)).stdout)

    sweep = {float(a): ndcg for a, ndcg in tuned["alpha_chosen_on"].items()}
    assert len(sweep) == 9 and sweep[tuned["alpha"]] == max(sweep.values())
    assert later["alpha"] == tuned["alpha"] and later["ndcg@10"] == tuned["ndcg@10"]
    untuned = settings.model_copy(update={"hybrid_alpha": None})  # as the CLI's settings
    with compose.connect_weaviate(untuned) as client:  # what searches of that index use
        embedder = compose.build_embedder(untuned)
        retriever = compose.build_retriever(client, untuned, embedder, tuned["collection"])
        assert retriever.alpha_for(retriever.current()[0]) == tuned["alpha"]


def test_eval_names_the_bad_line_of_a_broken_dataset(settings_env, tmp_path):
    dataset = tmp_path / "broken"
    (dataset / "qrels").mkdir(parents=True)
    (dataset / "corpus.jsonl").write_text(BEIR + "{not json\n")
    (dataset / "queries.jsonl").write_text(QUERIES)
    (dataset / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")

    result = knowhere(settings_env, "eval", str(dataset))

    assert result.returncode == 1
    assert "corpus.jsonl:4" in result.stderr and "not valid JSON" in result.stderr


def test_indexing_a_folder_that_does_not_exist_says_so(settings_env, tmp_path):
    result = knowhere(settings_env, "index", str(tmp_path / "nope"))

    assert result.returncode == 1
    assert f"{tmp_path / 'nope'} is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_weaviate_is_a_clear_error_naming_url_and_fix(settings_env, knowledge_base):
    port = free_port()
    env = {**settings_env, "KNOWHERE_WEAVIATE_HTTP_PORT": str(port)}

    result = knowhere(env, "search", "vpn")

    assert result.returncode == 1
    assert f"http://127.0.0.1:{port}" in result.stderr
    assert "knowhere services up" in result.stderr
    assert "Traceback" not in result.stderr


def test_api_key_of_an_external_weaviate_never_appears_in_errors(settings_env):
    env = {
        **settings_env,
        "KNOWHERE_WEAVIATE_URL": f"http://127.0.0.1:{free_port()}",
        "KNOWHERE_WEAVIATE_API_KEY": "wv-secret-key-123",
    }

    result = knowhere(env, "search", "vpn")

    assert result.returncode == 1
    assert "wv-secret-key-123" not in result.stderr + result.stdout
    assert "KNOWHERE_WEAVIATE_URL" in result.stderr


def test_services_up_status_and_down_run_local_weaviate_and_redis(settings_env, tmp_path):
    env = {
        **{k: v for k, v in settings_env.items() if k != "KNOWHERE_WEAVIATE_API_KEY"},
        "KNOWHERE_HOME": str(tmp_path / "home"),
        "KNOWHERE_WEAVIATE_HTTP_PORT": str(free_port()),
        "KNOWHERE_WEAVIATE_GRPC_PORT": str(free_port()),
    }
    redis_port = free_port()
    env["KNOWHERE_LOCAL_REDIS_PORT"] = str(redis_port)
    env["KNOWHERE_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    try:
        up = knowhere(env, "services", "up")
        assert up.returncode == 0, up.stderr
        status = knowhere(env, "services", "status")
        assert status.returncode == 0
        assert status.stdout.count("ready at") == 2
        data = Path(env["KNOWHERE_HOME"]) / "data"
        assert (data / "weaviate").is_dir() and (data / "redis").is_dir()

        # An open port gives nothing: the local Weaviate wants the key generated into the home.
        key_file = Path(env["KNOWHERE_HOME"]) / "secrets" / "weaviate-api-key"
        key = key_file.read_text().strip()
        assert len(key) >= 32 and key_file.stat().st_mode & 0o077 == 0
        schema = f"http://127.0.0.1:{env['KNOWHERE_WEAVIATE_HTTP_PORT']}/v1/schema"
        assert httpx.get(schema).status_code == 401
        assert httpx.get(schema, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(schema, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert key not in up.stdout + up.stderr + status.stdout + status.stderr
        listed = knowhere(env, "embedder", "list")  # the CLI finds the key by itself
        assert listed.returncode == 0, listed.stderr
        logs = Path(env["KNOWHERE_HOME"]) / "logs"
        assert all(key not in log.read_text(errors="replace") for log in logs.glob("*.log"))
    finally:
        down = knowhere(env, "services", "down")
    assert "weaviate" in down.stdout and "redis" in down.stdout
    assert knowhere(env, "services", "status").returncode == 3


def test_free_port_block_is_consecutive_and_free():
    first = free_port_block(4)
    assert 0 < first < 65532


@pytest.fixture
def llm_server(tmp_path):
    """llama.cpp's OpenAI-compatible server on a free port, requiring an API key."""
    port = free_port()
    log = (tmp_path / "llm.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "standins" / "llm_server.py"), str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not port_open(port):
        assert process.poll() is None and time.monotonic() < deadline, "LLM server did not start"
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_ask_uses_a_configured_openai_compatible_server(settings_env, knowledge_base, llm_server):
    knowhere(settings_env, "index", str(knowledge_base))
    env = {
        **settings_env,
        "KNOWHERE_LLM_BASE_URL": llm_server,
        "KNOWHERE_LLM_API_KEY": "sk-test-secret",
        "KNOWHERE_LLM_MODEL": "smollm2",
    }

    asked = knowhere(env, "ask", "How many vacation days do I get?", "--json")

    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["generator"] == "openai:smollm2"
    assert answer["answer"].strip() and answer["citations"]
    assert "sk-test-secret" not in asked.stdout + asked.stderr


def test_wrong_llm_api_key_fails_without_echoing_it(settings_env, knowledge_base, llm_server):
    knowhere(settings_env, "index", str(knowledge_base))
    env = {**settings_env, "KNOWHERE_LLM_BASE_URL": llm_server, "KNOWHERE_LLM_API_KEY": "sk-wrong"}

    asked = knowhere(env, "ask", "How many vacation days do I get?")

    assert asked.returncode == 1
    assert "sk-wrong" not in asked.stdout + asked.stderr
    assert "Traceback" not in asked.stderr


def test_ask_offline_with_the_local_gguf_model(settings_env, knowledge_base):
    knowhere(settings_env, "index", str(knowledge_base))
    env = {**settings_env, "KNOWHERE_ANSWER_MODE": "llamacpp"}

    asked = knowhere(env, "ask", "How many vacation days do I get?", "--json")

    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["generator"].startswith("llamacpp:SmolLM2")
    assert answer["answer"].strip() and answer["citations"]
