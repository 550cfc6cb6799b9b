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


# --- KubeRay (deploy/kuberay/): Ray Serve as a RayService, Ray Data indexing as a RayJob ---

RAY_FIELDS = {
    # the custom resources' fields these manifests use, as KubeRay's CRDs name them (ray.io/v1)
    "RayService": {"serveConfigV2", "rayClusterConfig"},
    "RayJob": {
        "entrypoint", "shutdownAfterJobFinishes", "ttlSecondsAfterFinished", "backoffLimit",
        "activeDeadlineSeconds", "rayClusterSpec",
    },
    "cluster": {"rayVersion", "enableInTreeAutoscaling", "headGroupSpec", "workerGroupSpecs"},
    "head": {"rayStartParams", "template"},
    "worker": {"groupName", "replicas", "minReplicas", "maxReplicas", "rayStartParams", "template"},
}  # fmt: skip


def kuberay_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "kuberay").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def ray_resource(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in kuberay_documents() if d["kind"] == kind]
    assert doc["apiVersion"] == "ray.io/v1"
    return doc


def cluster_of(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    cluster: dict[str, Any] = spec.get("rayClusterConfig") or spec["rayClusterSpec"]
    return cluster


def pods(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Group name ("head" for the head) -> pod template."""
    templates = {"head": cluster["headGroupSpec"]["template"]}
    for group in cluster["workerGroupSpecs"]:
        templates[group["groupName"]] = group["template"]
    return templates


@pytest.mark.parametrize("kind", ["RayService", "RayJob"])
def test_kuberay_resources_use_known_fields_and_valid_pod_templates(kind: str) -> None:
    doc = ray_resource(kind)
    assert set(doc["spec"]) <= RAY_FIELDS[kind]
    cluster = cluster_of(doc)
    assert set(cluster) <= RAY_FIELDS["cluster"]
    assert set(cluster["headGroupSpec"]) <= RAY_FIELDS["head"]
    for group in cluster["workerGroupSpecs"]:
        assert set(group) <= RAY_FIELDS["worker"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    for name, template in pods(cluster).items():
        # a pod template is a core Kubernetes object: checked strictly as a PodTemplate
        wrapped = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": f"{doc['metadata']['name']}-{name}"},
            "template": template,
        }
        kubernetes_validate.validate(wrapped, KUBERNETES, strict=True)
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["image"].startswith("tinyseek-ray:")
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()


def test_kuberay_plain_objects_match_the_kubernetes_schema() -> None:
    plain = [d for d in kuberay_documents() if not d["apiVersion"].startswith("ray.io/")]
    assert {d["kind"] for d in plain} == {"PersistentVolumeClaim", "PodDisruptionBudget"}
    for doc in plain:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_rayservice_serves_the_pulled_index_with_probes_and_a_pdb() -> None:
    serve_schema = pytest.importorskip("ray.serve.schema", reason="the ray extra")
    from tinyseek.api import ray_serve

    doc = ray_resource("RayService")
    raw = yaml.safe_load(doc["spec"]["serveConfigV2"])
    # Serve's own schema (it lets unknown keys pass: those are checked here)
    config = serve_schema.ServeDeploySchema.model_validate(raw)
    assert set(raw) <= set(serve_schema.ServeDeploySchema.model_fields)
    for application in raw["applications"]:
        assert set(application) <= set(serve_schema.ServeApplicationSchema.model_fields)
    (app,) = config.applications
    module, _, builder = app.import_path.partition(":")
    assert module == "tinyseek.api.ray_serve" and callable(getattr(ray_serve, builder))
    assert app.args["index_dir"] == "/index" and app.route_prefix == "/"
    templates = pods(cluster_of(doc))
    for pod in (t["spec"] for t in templates.values()):
        (pull,) = pod["initContainers"]  # every node pulls the served generation
        assert pull["args"][0] == "pull-index" and pull["args"][-1] == "/index"
        assert {"name": "index", "mountPath": "/index"} in pod["containers"][0]["volumeMounts"]
        assert pod["priorityClassName"] == "tinyseek-serving"
        # Serve's throughput switches, in the controller's and the replicas' pods alike
        env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
        assert ray_serve.SERVE_ENV.items() <= env.items()
    worker = templates["search"]["spec"]["containers"][0]
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (pdb,) = [d for d in kuberay_documents() if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= (
        templates["search"]["metadata"]["labels"].items()
    )
    head = cluster_of(doc)["headGroupSpec"]["rayStartParams"]
    assert head["num-cpus"] == "0"  # replicas land on workers, not the head


def test_rayjob_encodes_on_spot_workers_and_resumes_from_a_shared_checkpoint() -> None:
    doc = ray_resource("RayJob")
    entrypoint = doc["spec"]["entrypoint"]
    assert "--ray auto" in entrypoint and "--resume" in entrypoint and "push-index" in entrypoint
    assert doc["spec"]["backoffLimit"] >= 1 and doc["spec"]["shutdownAfterJobFinishes"]
    templates = pods(cluster_of(doc))
    head = templates.pop("head")["spec"]
    assert "tolerations" not in head  # the driver stays off interruptible nodes
    (claim,) = [d for d in kuberay_documents() if d["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # actors write their blocks
    for pod in [head, *(t["spec"] for t in templates.values())]:
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["work"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        assert {"name": "work", "mountPath": "/work"} in pod["containers"][0]["volumeMounts"]
        assert pod["priorityClassName"] == "tinyseek-batch"
    for pod in (t["spec"] for t in templates.values()):
        keys = [t["key"].lower() for t in pod["tolerations"]]
        assert any("spot" in key or "capacitytype" in key for key in keys)
        assert pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
