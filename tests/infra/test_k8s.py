"""infra/k8s renders (base and overlays), validates offline and keeps the operational promises.

Core kinds are validated with kubernetes-validate (the Kubernetes OpenAPI schemas, strict). The
CRD kinds (RabbitmqCluster, KEDA ScaledObject and TriggerAuthentication) are validated against
small JSON schemas in tests/infra/crd_schemas that cover the fields we use: vendoring the full
CRDs would be heavy, and these catch typos and wrong types in what we actually write.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.infra.kustomize import Doc, build, pod_spec

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
OVERLAYS = {
    "base": K8S / "base",
    "production": K8S / "overlays/production",
    "dev": K8S / "overlays/dev",
}
KUBERNETES_VERSION = "1.30.0"
CRD_SCHEMAS = {
    p.stem: json.loads(p.read_text())
    for p in (Path(__file__).parent / "crd_schemas").glob("*.json")
}
SERVICES = {"poll-api": 8000, "ws-gateway": 8001, "vote-worker": 8002, "audit-sink": 8003}
# preStop pause + margin that terminationGracePeriodSeconds allows beyond the services' grace.
MARGIN_SECONDS = 5


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, build(OVERLAYS[request.param])


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def config(docs: list[Doc]) -> dict[str, str]:
    return dict(by_kind(docs, "ConfigMap")["zephyr-config"]["data"])


def test_every_kustomization_lists_existing_files() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        listed = [*spec.get("resources", []), *(p["path"] for p in spec.get("patches", []))]
        for entry in listed:
            assert (kustomization.parent / entry).exists(), f"{kustomization}: missing {entry}"


def test_every_resource_validates(rendered: tuple[str, list[Doc]]) -> None:
    name, docs = rendered
    assert docs, name
    for doc in docs:
        what = f"{name}: {doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in CRD_SCHEMAS:
            jsonschema.validate(doc, CRD_SCHEMAS[doc["kind"]])
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{what}: {exc.message} at {list(exc.path)}") from None


def test_deployments_have_probes_resources_and_matching_grace(
    rendered: tuple[str, list[Doc]],
) -> None:
    name, docs = rendered
    grace = float(config(docs)["ZEPHYR_SHUTDOWN_GRACE_SECONDS"])
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == set(SERVICES), name
    for service, port in SERVICES.items():
        pod = pod_spec(deployments[service])
        assert pod is not None
        (container,) = pod["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": port}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (service, kind)
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
        pause = float(pre_stop["command"][1]) if pre_stop else 0.0
        period = pod["terminationGracePeriodSeconds"]
        assert grace + pause < period <= grace + pause + MARGIN_SECONDS, (service, period)
        annotations = deployments[service]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)
        env = {e["name"]: e for e in container["env"]}
        assert env[f"{service.replace('-', '_').upper()}_PORT"]["value"] == str(port)


def test_secrets_come_from_mounted_files(rendered: tuple[str, list[Doc]]) -> None:
    name, docs = rendered
    workloads = [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]
    for doc in workloads:
        pod = pod_spec(doc)
        assert pod is not None
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            for env in container.get("env", []):
                assert not re.search(r"(DATABASE_URL|AMQP_URL|SECRET|JWT_KEYS)$", env["name"]), (
                    f"{doc['metadata']['name']}: {env['name']} must be a *_FILE"
                )
                if not env["name"].endswith("_FILE"):
                    continue
                directory, _, key = env["value"].rpartition("/")
                volume = volumes[mounts[directory]]
                items = {i["path"]: i["key"] for i in volume["secret"]["items"]}
                assert volume["secret"]["secretName"] == "zephyr-secrets"
                assert key in items, (doc["metadata"]["name"], env["name"])
    if name == "dev":
        secret = by_kind(docs, "Secret")["zephyr-secrets"]
        assert set(secret["stringData"]) == {
            "database-url",
            "amqp-url",
            "token-secret",
            "jwt-keys",
        }


def test_each_deployment_has_a_service_and_a_disruption_budget(
    rendered: tuple[str, list[Doc]],
) -> None:
    _, docs = rendered
    services, budgets = by_kind(docs, "Service"), by_kind(docs, "PodDisruptionBudget")
    for name, deployment in by_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert services[name]["spec"]["selector"].items() <= labels.items()
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_gateway_hpa_and_worker_keda_scaling(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "ws-gateway",
    }
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    metrics = {m["type"] for m in hpa["spec"]["metrics"]}
    assert "Resource" in metrics
    scaled = by_kind(docs, "ScaledObject")["vote-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "vote-worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert trigger["metadata"]["queueName"] == "votes"
    auth = by_kind(docs, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": "zephyr-secrets", "key": "amqp-url"}
    ]


def test_rabbitmq_is_a_three_node_cluster_with_quorum_queues_on_all_three() -> None:
    for name in ("base", "production"):
        cluster = by_kind(build(OVERLAYS[name]), "RabbitmqCluster")["rabbitmq"]
        assert cluster["spec"]["replicas"] == 3
        assert re.search(
            r"\{quorum_cluster_size,\s*3\}", cluster["spec"]["rabbitmq"]["advancedConfig"]
        )
        anti = cluster["spec"]["affinity"]["podAntiAffinity"]
        assert (
            anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]
            == "kubernetes.io/hostname"
        )


def test_a_migration_job_per_table_owner(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    owners = {p.parts[-5] for p in ROOT.glob("services/*/src/*/migrations/versions")}
    assert owners == {"poll-api", "vote-worker", "audit-sink"}
    jobs = by_kind(docs, "Job")
    for owner in owners:
        pod = pod_spec(jobs[f"migrate-{owner}"])
        assert pod is not None
        (container,) = pod["containers"]
        # The image's entry point is the service's own command (Dockerfile): `<owner> migrate`.
        assert container["args"] == ["migrate"] and "command" not in container
        assert container["image"].split(":")[0].endswith(f"zephyr/{owner}")


def test_production_pins_registry_images() -> None:
    docs = build(OVERLAYS["production"])
    for doc in docs:
        pod = pod_spec(doc)
        for container in (pod or {}).get("containers", []):
            image = container["image"]
            # Ours from the registry, pinned; a third-party tool image (the backup's pg_dump)
            # pinned to an exact version too: never `latest`.
            assert re.fullmatch(
                r"registry\.example\.org/zephyr/[a-z-]+:\d+\.\d+\.\d+", image
            ) or re.fullmatch(r"postgres:\d+\.\d+-bookworm", image), image
    assert all(d["metadata"].get("namespace") == "zephyr" for d in docs if d["kind"] != "Namespace")


def test_rollouts_never_drop_capacity_and_fail_by_a_deadline(
    rendered: tuple[str, list[Doc]],
) -> None:
    _, docs = rendered
    for name, deployment in by_kind(docs, "Deployment").items():
        spec = deployment["spec"]
        assert spec["strategy"]["type"] == "RollingUpdate", name
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        assert spec["strategy"]["rollingUpdate"]["maxSurge"] >= 1, name
        assert 60 <= spec["progressDeadlineSeconds"] <= 600, name
        assert spec["minReadySeconds"] >= 5, name


def test_ingress_serves_both_services_over_tls_with_websocket_timeouts(
    rendered: tuple[str, list[Doc]],
) -> None:
    _, docs = rendered
    ingress = by_kind(docs, "Ingress")["zephyr"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    hosts = {rule["host"]: rule for rule in ingress["spec"]["rules"]}
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == set(hosts) and tls["secretName"]
    backends = {
        path["backend"]["service"]["name"]
        for rule in hosts.values()
        for path in rule["http"]["paths"]
    }
    assert backends == {"poll-api", "ws-gateway"}


def test_backup_and_retention_run_on_a_schedule(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    crons = by_kind(docs, "CronJob")
    owners = {p.parts[-5] for p in ROOT.glob("services/*/src/*/migrations/versions")}
    assert set(crons) == {"backup"} | {f"retention-{owner}" for owner in owners}
    for name, cron in crons.items():
        assert cron["spec"]["concurrencyPolicy"] == "Forbid", name
        assert len(cron["spec"]["schedule"].split()) == 5, name
    backup = pod_spec(crons["backup"])
    assert backup is not None
    script = backup["containers"][0]["args"][0]
    assert "pg_dump -Fc" in script and "pg_restore --list" in script
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in backup["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == set(by_kind(docs, "PersistentVolumeClaim"))
    for owner in owners:
        pod = pod_spec(crons[f"retention-{owner}"])
        assert pod is not None
        (container,) = pod["containers"]
        assert container["args"] == ["retention"]
        assert container["image"].split(":")[0].endswith(f"zephyr/{owner}")
