"""Static checks of the Kubernetes manifests in deploy/k8s: no cluster needed.

Every YAML document is parsed; the workloads (Deployment, StatefulSet, DaemonSet, Job) are held to
the production contract: what they run, their probes, their security context, how secrets reach
them; each overlay to its zone. When a kustomize is installed (``kubectl kustomize``), the overlays
are also built and the rendered zone checked.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import json
import re
import shutil
import subprocess
import sys
import threading
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from libs.config import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
IMAGE = "ghcr.io/tandem/tandem"

#: The five services and their HTTP port (DESIGN.md, "Default ports").
HTTP_PORTS = {
    "switch_api": 8001,
    "customer_api": 8002,
    "lookup_api": 8003,
    "sip_core": 8004,
    "rtp_relay": 8005,
    # The billing worker lives in switch_api's package (python -m services.switch_api.billing).
    "switch_api.billing": 8006,
}
#: ``tandem migrate`` (the console script); ``python -m libs.platform.cli migrate`` only once that
#: module runs its app when executed (today it has no ``__main__`` guard: a silent no-op, exit 0).
_CLI = (REPO / "libs" / "platform" / "cli.py").read_text(encoding="utf-8")
MIGRATE_COMMANDS = [["tandem", "migrate"]] + (
    [["python", "-m", "libs.platform.cli", "migrate"]] if "__main__" in _CLI else []
)
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
#: Words that mark an environment variable as carrying a secret (or a URL that may embed one).
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|PASSWD|PEPPER|TOKEN|CREDENTIAL|PRIVATE|KEY|URL|DSN")
#: ``scheme://user:password@host``: credentials inside a URL.
URL_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s]+:[^/@\s]*@", re.IGNORECASE)


def _yaml_files() -> list[Path]:
    return sorted([*K8S.rglob("*.yaml"), *K8S.rglob("*.yml")])


@functools.cache
def _documents() -> tuple[tuple[Path, dict[str, Any]], ...]:
    """Every YAML document under deploy/k8s, parsed once (tests only read them)."""
    return tuple(
        (path, doc)
        for path in _yaml_files()
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc is not None
    )


def _objects() -> list[tuple[Path, dict[str, Any]]]:
    """Kubernetes objects (not kustomizations, not Helm values)."""
    return [
        (path, doc)
        for path, doc in _documents()
        if "apiVersion" in doc and "kind" in doc and not doc["apiVersion"].startswith("kustomize")
    ]


def _workloads() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path, doc in _objects() if doc["kind"] in WORKLOAD_KINDS]


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def _containers() -> list[Any]:
    cases = []
    for path, workload in _workloads():
        pod = _pod_spec(workload)
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            ident = f"{path.relative_to(K8S)}:{workload['metadata']['name']}/{container['name']}"
            cases.append(pytest.param(workload, pod, container, id=ident))
    return cases


CONTAINERS = _containers()


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def _service_of(container: dict[str, Any]) -> str | None:
    """``switch_api`` for ``python -m services.switch_api``; None for anything else."""
    command = [*container.get("command", []), *container.get("args", [])]
    if len(command) == 3 and command[:2] == ["python", "-m"] and command[2].startswith("services."):
        return command[2].removeprefix("services.")
    return None


#: The containers of the five services (the migration Job serves no HTTP and is no node).
SERVICE_CONTAINERS = [c for c in CONTAINERS if _service_of(c.values[2])]


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"probe uses port {port!r}, which the container does not declare"
    return named[port]


def _kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))


def _overlays() -> list[Path]:
    return sorted(path.parent for path in OVERLAYS.glob("*/kustomization.yaml"))


# --- the files -------------------------------------------------------------------------------


def test_every_yaml_document_parses_into_a_mapping() -> None:
    files = _yaml_files()
    assert len(files) >= 10, "deploy/k8s looks empty"
    for path, doc in _documents():
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"


def test_every_object_is_well_formed() -> None:
    for path, obj in _objects():
        assert obj.get("metadata", {}).get("name"), f"{path}: {obj['kind']} without a name"


def test_the_base_lists_every_manifest_beside_it() -> None:
    listed = set(_kustomization(BASE)["resources"])
    present = {p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present


def test_no_secret_is_written_in_the_manifests() -> None:
    for path, obj in _objects():
        assert obj["kind"] != "Secret", f"{path}: Secrets are created out of band (README.md)"
    for path in _yaml_files():
        text = path.read_text(encoding="utf-8")
        assert not URL_WITH_CREDENTIALS.search(text), f"{path}: a URL with credentials"
    for directory in [BASE, *_overlays()]:
        kustomization = _kustomization(directory)
        assert "secretGenerator" not in kustomization, f"{directory}: secrets are out of band"
        for generator in kustomization.get("configMapGenerator", []):
            for literal in generator.get("literals", []):
                name = literal.split("=", 1)[0]
                assert not SECRET_WORDS.search(name), f"{directory}: {name} in a ConfigMap"


# --- the workloads ---------------------------------------------------------------------------


def test_every_service_and_the_migration_are_deployed_once() -> None:
    services = [_service_of(c.values[2]) for c in CONTAINERS]
    assert sorted(s for s in services if s) == sorted(HTTP_PORTS)
    migrations = [c for c in CONTAINERS if c.values[2].get("command") in MIGRATE_COMMANDS]
    assert len(migrations) == 1
    assert migrations[0].values[0]["kind"] == "Job"


@pytest.mark.parametrize(("workload", "pod", "container"), CONTAINERS)
def test_container_runs_a_service_or_the_migration_from_the_one_image(
    workload: dict[str, Any], pod: dict[str, Any], container: dict[str, Any]
) -> None:
    service = _service_of(container)
    assert service in HTTP_PORTS or container.get("command") in MIGRATE_COMMANDS, (
        f"unexpected command {container.get('command')}"
    )
    if service is None:
        assert workload["kind"] == "Job"
    image = container["image"]
    assert image.startswith((f"{IMAGE}:", f"{IMAGE}@")), image


@pytest.mark.parametrize(("workload", "pod", "container"), SERVICE_CONTAINERS)
def test_service_probes_and_metrics_use_its_http_port(
    workload: dict[str, Any], pod: dict[str, Any], container: dict[str, Any]
) -> None:
    service = _service_of(container)
    assert service is not None
    env = _env(container)
    port = int(env["TANDEM_HTTP__PORT"]["value"])
    assert port == HTTP_PORTS[service]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        assert http["path"] == path, probe
        assert _port_number(container, http["port"]) == port, probe
    annotations = workload["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize(("workload", "pod", "container"), CONTAINERS)
def test_container_is_locked_down(
    workload: dict[str, Any], pod: dict[str, Any], container: dict[str, Any]
) -> None:
    pod_ctx = pod.get("securityContext", {})
    ctx = container.get("securityContext", {})
    assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True
    assert ctx.get("runAsUser", pod_ctx.get("runAsUser")) not in (None, 0)
    assert ctx.get("readOnlyRootFilesystem") is True
    assert ctx.get("allowPrivilegeEscalation") is False
    assert ctx.get("privileged", False) is False
    assert "ALL" in ctx.get("capabilities", {}).get("drop", [])
    assert not ctx.get("capabilities", {}).get("add")
    assert pod.get("automountServiceAccountToken") is False
    resources = container["resources"]
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[part]), f"{part} incomplete"


@pytest.mark.parametrize(("workload", "pod", "container"), CONTAINERS)
def test_secrets_reach_the_container_only_as_files_or_secret_references(
    workload: dict[str, Any], pod: dict[str, Any], container: dict[str, Any]
) -> None:
    secret_volumes = {
        v["name"]
        for v in pod.get("volumes", [])
        if "secret" in v
        or ("projected" in v and all("secret" in s for s in v["projected"]["sources"]))
    }
    secret_dirs = [
        m["mountPath"].rstrip("/") + "/"
        for m in container.get("volumeMounts", [])
        if m["name"] in secret_volumes
    ]
    for name, item in _env(container).items():
        if "valueFrom" in item:
            source = item["valueFrom"]
            if SECRET_WORDS.search(name):
                assert "secretKeyRef" in source, f"{name} must come from a Secret"
            continue
        value = str(item.get("value", ""))
        assert not URL_WITH_CREDENTIALS.search(value), f"{name} embeds credentials"
        if name.endswith("_FILE"):
            assert any(value.startswith(d) for d in secret_dirs), (
                f"{name}={value} is not inside a mounted Secret"
            )
        elif SECRET_WORDS.search(name):
            pytest.fail(f"{name} has an inline value: use a *_FILE path or a secretKeyRef")


@pytest.mark.parametrize(("workload", "pod", "container"), SERVICE_CONTAINERS)
def test_service_has_the_shared_settings_and_a_node_id_from_the_pod_name(
    workload: dict[str, Any], pod: dict[str, Any], container: dict[str, Any]
) -> None:
    refs = [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
    assert refs == ["tandem-env"]
    env = _env(container)
    pod_name_vars = [
        name
        for name, item in env.items()
        if item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name"
    ]
    node_id = env["TANDEM_NODE_ID"]
    assert "valueFrom" in node_id or any(f"$({v})" in node_id["value"] for v in pod_name_vars)
    for name in ("CREDENTIALS", "TLS_CA", "TLS_CERT", "TLS_KEY"):
        assert f"TANDEM_NATS__{name}_FILE" in env


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.config")
    (cls,) = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, ServiceSettings)
        and obj.__module__ == module.__name__
    ]
    return cls


def _variables(model: type[BaseModel], prefix: str = "TANDEM_") -> set[str]:
    """Every environment variable ``model`` reads: ``TANDEM_SIP__UDP_PORT``, …"""
    names = set()
    for field, info in model.model_fields.items():
        name = f"{prefix}{field.upper()}"
        names.add(name)
        annotation = info.annotation
        options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
        for candidate in (annotation, *options):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names |= _variables(candidate, f"{name}__")
    return names


@pytest.mark.parametrize(("workload", "pod", "container"), SERVICE_CONTAINERS)
def test_every_setting_given_to_a_service_is_one_it_reads(
    workload: dict[str, Any], pod: dict[str, Any], container: dict[str, Any]
) -> None:
    """A misspelt variable would be ignored silently (settings ignore unknown names)."""
    service = _service_of(container)
    assert service is not None
    known = _variables(_settings_class(service))
    (generator,) = [
        g for g in _kustomization(BASE)["configMapGenerator"] if g["name"] == "tandem-env"
    ]
    shared = {item.split("=", 1)[0] for item in generator["literals"]}
    for name in sorted({*shared, *_env(container)}):
        if not name.startswith("TANDEM_"):
            continue
        field = name.removesuffix("_FILE")  # TANDEM_DATABASE__URL_FILE: a file holding the URL
        assert name in known or field in known, f"{service} has no setting {name}"


def test_the_shared_settings_are_production_ones() -> None:
    (generator,) = [
        g for g in _kustomization(BASE)["configMapGenerator"] if g["name"] == "tandem-env"
    ]
    literals = dict(item.split("=", 1) for item in generator["literals"])
    assert literals["TANDEM_ENVIRONMENT"] == "production"
    assert literals["TANDEM_LOG_FORMAT"] == "json"
    assert literals["TANDEM_HTTP__HOST"] == "0.0.0.0"
    servers = json.loads(literals["TANDEM_NATS__SERVERS"])
    assert servers
    assert all(s.startswith(("nats://", "tls://")) for s in servers)


def _workload(name: str) -> dict[str, Any]:
    (found,) = [w for _, w in _workloads() if w["metadata"]["name"] == name]
    return found


def test_sip_core_keeps_its_spool_source_addresses_and_calls() -> None:
    sts = _workload("sip-core")
    assert sts["kind"] == "StatefulSet"
    pod = _pod_spec(sts)
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["terminationGracePeriodSeconds"] >= 3600
    (container,) = pod["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"]
    env = _env(container)
    spool = env["TANDEM_SPOOL_DIR"]["value"]
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[spool] in claims, "the spool must be a PersistentVolumeClaim"
    assert env["TANDEM_SIP__UDP_PORT"]["value"] == env["TANDEM_SIP__TCP_PORT"]["value"] == "5060"
    assert env["TANDEM_SIP__TLS_PORT"]["value"] == "5061"
    ports = {(p["containerPort"], p["protocol"]) for p in container["ports"]}
    assert {(5060, "UDP"), (5060, "TCP"), (5061, "TCP")} <= ports


def test_rtp_relay_runs_on_media_nodes_with_the_node_address() -> None:
    ds = _workload("rtp-relay")
    assert ds["kind"] == "DaemonSet"
    pod = _pod_spec(ds)
    assert pod["hostNetwork"] is True
    assert pod["nodeSelector"]["tandem.dev/role"] == "media"
    assert pod["terminationGracePeriodSeconds"] >= 3600
    env = _env(pod["containers"][0])
    advertised = env["TANDEM_MEDIA__ADVERTISED_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert advertised == "status.hostIP"
    assert (env["TANDEM_MEDIA__PORT_MIN"]["value"], env["TANDEM_MEDIA__PORT_MAX"]["value"]) == (
        "20000",
        "29999",
    )


def test_lookup_api_is_scaled_by_a_cpu_autoscaler() -> None:
    (hpa,) = [o for _, o in _objects() if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "lookup-api",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "replicas" not in _workload("lookup-api")["spec"], "the HPA owns the replica count"


def test_every_long_running_workload_has_a_disruption_budget_and_is_spread() -> None:
    budgets = [
        o["spec"]["selector"]["matchLabels"]
        for _, o in _objects()
        if o["kind"] == "PodDisruptionBudget"
    ]
    for _, workload in _workloads():
        if workload["kind"] == "Job":
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        name = workload["metadata"]["name"]
        assert any(b.items() <= labels.items() for b in budgets), f"{name}: no PDB"
        pod = _pod_spec(workload)
        assert pod["nodeSelector"]["tandem.dev/zone"] == "unset", "overlays set the zone"
        if workload["kind"] == "DaemonSet":
            continue  # one per node by construction
        spread = {c["topologyKey"] for c in pod.get("topologySpreadConstraints", [])}
        anti = pod.get("affinity", {}).get("podAntiAffinity", {})
        required = anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        spread |= {term["topologyKey"] for term in required}
        assert "kubernetes.io/hostname" in spread, f"{name}: not spread across nodes"


# --- the overlays ----------------------------------------------------------------------------


def test_there_is_an_overlay_per_zone() -> None:
    assert {p.name for p in _overlays()} >= {"eu-west", "us-east"}


@pytest.mark.parametrize("overlay", _overlays(), ids=lambda p: p.name)
def test_overlay_sets_its_zone(overlay: Path) -> None:
    zone = overlay.name
    kustomization = _kustomization(overlay)
    assert "../../base" in kustomization["resources"]
    assert kustomization["namespace"] == f"tandem-{zone}"
    (generator,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "tandem-env"]
    assert generator["behavior"] == "merge"
    assert f"TANDEM_ZONE={zone}" in generator["literals"]
    (image,) = [i for i in kustomization["images"] if i["name"] == IMAGE]
    assert image.get("digest") or image.get("newTag") not in (None, "", "unset", "latest")
    # The zone also places the pods (nodeSelector), from the same literal.
    placed = {
        target["select"]["kind"]
        for replacement in kustomization["replacements"]
        if replacement["source"]["fieldPath"] == "data.TANDEM_ZONE"
        for target in replacement["targets"]
        if "spec.template.spec.nodeSelector.[tandem.dev/zone]" in target["fieldPaths"]
    }
    assert placed == WORKLOAD_KINDS
    assert (K8S / "nats" / f"values-{zone}.yaml").is_file(), "no NATS values for the zone"


def _kustomize() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.parametrize("overlay", _overlays(), ids=lambda p: p.name)
def test_overlay_builds_into_its_zone(overlay: Path) -> None:
    command = _kustomize()
    if command is None:
        pytest.skip("no kustomize or kubectl installed")
    out = subprocess.run([*command, str(overlay)], capture_output=True, text=True, check=True)
    objects = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    zone = overlay.name
    cluster_scoped = {"Namespace", "PriorityClass"}
    for obj in objects:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == f"tandem-{zone}", obj["metadata"]["name"]
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("tandem-env"):
            assert obj["data"]["TANDEM_ZONE"] == zone
        if obj["kind"] in WORKLOAD_KINDS:
            pod = obj["spec"]["template"]["spec"]
            assert pod["nodeSelector"]["tandem.dev/zone"] == zone
            for container in pod["containers"]:
                assert not container["image"].endswith(":unset")


# --- the drain hook --------------------------------------------------------------------------


class _Node(http.server.BaseHTTPRequestHandler):
    """A node with calls that end one per GET /drain."""

    active = 2
    requests: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        type(self).requests.append(f"POST {self.path}")
        self.send_response(202)
        self.end_headers()

    def do_GET(self) -> None:
        type(self).requests.append(f"GET {self.path}")
        type(self).active -= 1
        body = json.dumps({"draining": True, "active": max(type(self).active, 0)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _run_hook(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BASE / "hooks" / "drain.py"), "30", "0.05"],
        env={"TANDEM_HTTP__PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_drain_hook_marks_the_node_draining_and_waits_for_its_calls() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = _run_hook(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert _Node.requests[0] == "POST /drain"
    assert _Node.requests[1:] == ["GET /drain", "GET /drain"]


def test_drain_hook_gives_way_when_the_service_does_not_answer() -> None:
    probe = http.server.HTTPServer(("127.0.0.1", 0), _Node)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens there any more
    assert _run_hook(port).returncode == 0
