"""deploy/kubernetes/: valid against Kubernetes' schemas (offline, kubernetes-validate's
bundled ones) and consistent with what the code relies on: probes, privileges, the web
tier's endpoint list naming exactly the StatefulSet's pods behind its headless Service,
the keys each side needs, and a grace period longer than the longest drain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from protocol import routing, settings
from protocol.budget import BACKSTOP_GRACE, job_budget
from protocol.models import RunRequest

DIR = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
K8S_VERSION = "1.30"


def documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(DIR.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def env_of(workload: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(workload)["env"]}


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_web_tier_lists_exactly_the_supervisor_pods() -> None:
    stateful = one("StatefulSet", "repl-supervisor")
    service = one("Service", stateful["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]
    port = service["spec"]["ports"][0]["port"]
    web = env_of(one("Deployment", "repl-web"))
    endpoints = routing.endpoints(settings.load(web))
    name = stateful["metadata"]["name"]
    assert endpoints == tuple(f"tcp://{name}-{i}.{service['metadata']['name']}:{port}"
                              for i in range(stateful["spec"]["replicas"]))
    assert env_of(stateful)["REPL_SUPERVISOR_ENDPOINT"] == f"tcp://*:{port}"


def test_each_side_has_its_keys_from_the_secret() -> None:
    supervisor = settings.load(env_of(one("StatefulSet", "repl-supervisor")))
    web = settings.load(env_of(one("Deployment", "repl-web")))
    assert supervisor.curve_secret_key and supervisor.curve_clients_dir
    assert web.curve_client_key and web.curve_server_key
    kustomization = yaml.safe_load((DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    (secret,) = kustomization["secretGenerator"]
    for workload, wanted in ((one("StatefulSet", "repl-supervisor"), supervisor.curve_secret_key),
                             (one("Deployment", "repl-web"), web.curve_client_key)):
        (keys,) = [v for v in workload["spec"]["template"]["spec"]["volumes"] if "secret" in v]
        assert keys["secret"]["secretName"] == secret["name"]
        (mount,) = [m for m in container(workload)["volumeMounts"] if m["name"] == keys["name"]]
        paths = {f"{mount['mountPath']}/{item['path']}" for item in keys["secret"]["items"]}
        assert wanted in paths


def test_supervisors_are_privileged_with_a_volume_each_and_the_web_tier_is_not() -> None:
    stateful = one("StatefulSet", "repl-supervisor")
    assert container(stateful)["securityContext"]["privileged"] is True
    (claim,) = stateful["spec"]["volumeClaimTemplates"]
    root = env_of(stateful)["REPL_SESSION_ROOT"]
    assert {"name": claim["metadata"]["name"], "mountPath": root} in container(stateful)["volumeMounts"]
    web = one("Deployment", "repl-web")
    pod = web["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    ctx = container(web)["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]
    assert ctx["readOnlyRootFilesystem"] is True


def test_no_two_supervisors_share_a_node_and_its_sandbox_uids() -> None:
    stateful = one("StatefulSet", "repl-supervisor")
    (term,) = stateful["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == stateful["spec"]["template"]["metadata"]["labels"]


def test_the_web_tier_is_probed_on_healthz_and_readyz() -> None:
    web = container(one("Deployment", "repl-web"))
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "readinessProbe" in container(one("StatefulSet", "repl-supervisor"))


def test_the_grace_period_outlasts_the_longest_job_and_the_drain() -> None:
    stateful = one("StatefulSet", "repl-supervisor")
    config = settings.load(env_of(stateful))
    longest = job_budget("run", RunRequest(id="x", cmd="true", timeout=config.max_run_timeout), config)
    drain = config.max_run_timeout + 5  # supervisor/__main__.py: the drain's own limit
    grace = stateful["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > max(longest + BACKSTOP_GRACE, drain)


def test_disruption_budgets_cover_both_tiers() -> None:
    budgets = {d["metadata"]["name"]: d["spec"] for d in documents() if d["kind"] == "PodDisruptionBudget"}
    assert budgets["repl-supervisor"]["maxUnavailable"] == 1
    assert budgets["repl-web"]["minAvailable"] >= 1
