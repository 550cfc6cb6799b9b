"""deploy/: the Kubernetes manifests validated offline against the Kubernetes schemas
(kubernetes-validate, strict: no unknown fields), plus what the schemas cannot say (probes on
the right paths, requests, the PDB and HPA aimed at the Deployment, spot placement of the
indexer, a non-root slim image without the training stack)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="needs the deploy extra: pip install 'tinyseek[deploy]'")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="the deploy extra")

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
KUBERNETES = "1.30.0"


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def find(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind]
    found = [d for d in found if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_matches_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_schema_validation_can_fail() -> None:
    broken = find("Deployment", "tinyseek")
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    typo = {**find("Service", "tinyseek"), "spek": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES, strict=True)


def test_serving_has_probes_requests_pdb_and_hpa() -> None:
    deployment = find("Deployment", "tinyseek")
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (serve,) = pod["containers"]
    assert serve["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert serve["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= serve["resources"]["requests"].keys()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["priorityClassName"] == "tinyseek-serving"
    (pull,) = pod["initContainers"]
    assert pull["args"][0] == "pull-index" and pull["args"][-1] == "/index"
    assert {"name": "index", "mountPath": "/index"} in serve["volumeMounts"]
    pdb = find("PodDisruptionBudget", "tinyseek")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    hpa = find("HorizontalPodAutoscaler", "tinyseek")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "tinyseek",
    }
    service = find("Service", "tinyseek")
    assert service["spec"]["selector"] == labels
    priorities = {d["metadata"]["name"]: d for d in documents() if d["kind"] == "PriorityClass"}
    assert priorities["tinyseek-serving"]["value"] > priorities["tinyseek-batch"]["value"]


def test_indexer_runs_on_spot_nodes_and_resumes() -> None:
    job = find("Job", "tinyseek-index")
    pod = job["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "tinyseek-batch"
    assert any(
        "spot" in t["key"].lower() or "SPOT" in t.get("value", "") for t in pod["tolerations"]
    )
    assert pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert any(r["action"] == "Ignore" for r in rules)  # preemption is not a failure
    (index,) = pod["containers"]
    command = " ".join(index["args"])
    assert "--resume" in command and "push-index" in command
    claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert find("PersistentVolumeClaim", claim)  # the checkpoint outlives the pod
    assert {"name": "work", "mountPath": "/work"} in index["volumeMounts"]


def test_dockerfile_is_multi_stage_slim_non_root_and_torch_free() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, flags=re.M)
    assert len(stages) >= 2 and all(image.endswith("-slim") for image, _ in stages)
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001", runtime, flags=re.M)
    installs = " ".join(re.findall(r"pip (?:install|wheel)[^\n]*", text))
    assert "train" not in installs and "torch" not in installs and "dev" not in installs
    assert '"serve", "/index"' in runtime and "EXPOSE 8000" in runtime
