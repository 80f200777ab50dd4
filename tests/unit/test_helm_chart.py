"""The Helm chart, as an operator installs it: it lints, it renders objects Kubernetes accepts,
every process gets its secrets from the Secret and a probe, and a values file that cannot work
is refused with what to set. Helm is the pinned one built from its Go module
(deploy/helm/install.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from indexing import Settings

REPO = Path(__file__).parents[2]
CHART = REPO / "deploy" / "helm" / "knowhere"
KUBERNETES = "1.33"  # the oldest Kubernetes minor the chart is validated for
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "DATABASE_URL")

EVERYTHING_ON = {
    "teams": {"enabled": True, "appId": "00000000-0000-0000-0000-000000000001", "tenantId": "t1"},
    "sources": "sources:\n  wiki:\n    type: confluence\n    url: https://acme.atlassian.net/wiki\n",
    "sourceTokens": [{"env": "CONFLUENCE_API_TOKEN", "key": "confluence-api-token"}],
    "secret": {"keys": {"redisUrl": "redis-url", "llmApiKey": "llm-api-key"}},
    "settings": {"KNOWHERE_EMBED_MODEL": "all-mpnet-base-v2", "KNOWHERE_TOP_K": 8},
    "ingress": {"enabled": True, "className": "nginx"},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "weaviate": {"replication": 3, "consistency": "QUORUM"},
    "admin": {"enabled": True},
}


@pytest.fixture(scope="module")
def helm() -> str:
    built = subprocess.run(
        [str(REPO / "deploy" / "helm" / "install.sh")],
        capture_output=True,
        text=True,
        check=True,
    )
    return built.stdout.strip()


@pytest.fixture(scope="module")
def service_monitor_schema() -> dict[str, Any]:
    """The ServiceMonitor schema the pinned Prometheus Operator installs (deploy/helm/crd.sh),
    strict: a field the CRD does not define is an error (as `kubectl --validate=strict`),
    not silently pruned."""
    found = subprocess.run(
        [str(REPO / "deploy" / "helm" / "crd.sh"), "servicemonitors"],
        capture_output=True,
        text=True,
        check=True,
    )
    crd = yaml.safe_load(Path(found.stdout.strip()).read_text())
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return _strict(served["schema"]["openAPIV3Schema"])


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        preserves = schema.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in schema and "additionalProperties" not in schema and not preserves:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


def render(helm: str, tmp_path: Path, values: dict[str, Any] | None = None) -> list[dict]:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values or {}))
    out = subprocess.run(
        [helm, "template", "knowhere", str(CHART), "--namespace", "kb", "-f", str(values_file)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def refusal(helm: str, tmp_path: Path, values: dict[str, Any]) -> str:
    values_file = tmp_path / "bad.yaml"
    values_file.write_text(yaml.safe_dump(values))
    out = subprocess.run(
        [helm, "template", "knowhere", str(CHART), "-f", str(values_file)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0, f"rendered although it cannot work: {values}"
    return out.stderr


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def containers(docs: list[dict]) -> list[tuple[str, dict]]:
    return [
        (d["metadata"]["name"], c)
        for d in of_kind(docs, "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


def test_the_chart_lints_and_renders_objects_kubernetes_accepts(
    helm, tmp_path, service_monitor_schema
):
    linted = subprocess.run([helm, "lint", str(CHART), "--strict"], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr

    for values in ({}, EVERYTHING_ON):
        docs = render(helm, tmp_path, values)
        for doc in docs:
            if doc["kind"] == "ServiceMonitor":  # a Prometheus Operator CRD: its own schema
                assert doc["apiVersion"] == "monitoring.coreos.com/v1"
                errors = jsonschema.Draft7Validator(service_monitor_schema).iter_errors(doc)
                problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]
                assert not problems, problems
                continue
            try:
                kubernetes_validate.validate(doc, KUBERNETES, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {err.message}")

    docs = render(helm, tmp_path, EVERYTHING_ON)
    [monitor] = of_kind(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = of_kind(docs, "Service")
    scraped = [
        s for s in services if s["metadata"]["labels"]["app.kubernetes.io/component"] != "admin"
    ]
    assert len(scraped) == 5  # two bots and three workers: each is scraped
    for service in scraped:
        labels = service["metadata"]["labels"]
        assert selector.items() <= labels.items(), service["metadata"]["name"]
        assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


def test_every_process_has_its_queue_its_probe_and_secrets_only_from_the_secret(helm, tmp_path):
    docs = render(helm, tmp_path, EVERYTHING_ON)
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    assert set(deployments) == {
        "knowhere-bot-slack",
        "knowhere-bot-teams",
        "knowhere-worker-indexing",
        "knowhere-worker-answers",
        "knowhere-worker-training",
        "knowhere-beat",
        "knowhere-admin",
    }
    for queue in ("indexing", "answers", "training"):
        [worker] = deployments[f"knowhere-worker-{queue}"]["spec"]["template"]["spec"]["containers"]
        assert worker["command"][worker["command"].index("--queues") + 1] == queue
    training = deployments["knowhere-worker-training"]
    assert training["spec"]["replicas"] == 1
    command = training["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--concurrency") + 1] == "1"
    beat = deployments["knowhere-beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"

    [config] = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == "knowhere"]
    fields = {f"KNOWHERE_{name.upper()}" for name in Settings.model_fields}
    unknown = {k for k in config["data"] if k.startswith("KNOWHERE_")} - fields
    assert not unknown, f"the ConfigMap sets variables Knowhere does not read: {unknown}"
    assert not [k for k in config["data"] if any(w in k for w in SECRET_WORDS)]

    for name, container in containers(docs):
        pod = deployments[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        env = {e["name"]: e for e in container.get("env", [])}
        for variable, entry in env.items():
            if any(word in variable for word in SECRET_WORDS):
                assert "value" not in entry, f"{name}: {variable} is written into the manifest"
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "knowhere"
        assert "KNOWHERE_DATABASE_URL" in env
        if name != "knowhere-beat":
            probe = container["livenessProbe"]["httpGet"]
            assert probe["path"] == "/healthz", name
            assert probe["port"] in {p["name"] for p in container["ports"]}
    slack = dict(containers(docs))["knowhere-bot-slack"]
    slack_env = {e["name"] for e in slack["env"]}
    assert {"KNOWHERE_SLACK_BOT_TOKEN", "KNOWHERE_SLACK_SIGNING_SECRET"} <= slack_env
    assert "AWS_SECRET_ACCESS_KEY" not in slack_env  # answers are computed by the workers
    admin = dict(containers(docs))["knowhere-admin"]
    assert "KNOWHERE_ADMIN_TOKEN" in {e["name"] for e in admin["env"]}
    assert "KNOWHERE_ADMIN_TOKEN" not in slack_env
    indexing = dict(containers(docs))["knowhere-worker-indexing"]
    assert "CONFLUENCE_API_TOKEN" in {e["name"] for e in indexing["env"]}
    assert "KNOWHERE_SLACK_BOT_TOKEN" not in {e["name"] for e in indexing["env"]}

    # Only the platforms' callbacks are public.
    [ingress] = of_kind(docs, "Ingress")
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert sorted(paths) == ["/api/messages", "/slack/events"]


def test_values_that_cannot_work_are_refused_with_what_to_set(helm, tmp_path):
    cases = [
        ({"secret": {"keys": {"databaseUrl": ""}}}, "secret.keys.databaseUrl is required"),
        ({"secret": {"keys": {"slackBotToken": ""}}}, "secret.keys.slackBotToken is required"),
        ({"teams": {"enabled": True, "appId": "a"}}, "teams.tenantId is required"),
        ({"secret": {"keys": {"answerSigningKey": ""}}}, "answerSigningKey is required"),
        (
            {"admin": {"enabled": True}, "secret": {"keys": {"adminToken": ""}}},
            "the admin page never runs open",
        ),
        (
            {"workers": [{"name": "t", "queues": ["training"], "concurrency": 2, "replicas": 1}]},
            "the training queue runs one task at a time",
        ),
    ]
    for values, message in cases:
        assert message in refusal(helm, tmp_path, values), values
