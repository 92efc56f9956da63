"""A tiny Kustomize renderer for the features infra/k8s uses (no network, no kubectl).

Supported: `resources` (files and directories), `namespace`, `labels` (metadata labels only),
`images` (newName/newTag) and `patches` with a `path` (strategic merge: maps merge, lists of
named items merge by name, other lists are replaced). Anything else fails loudly, so using a new
Kustomize feature means teaching this renderer first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}
CLUSTER_SCOPED = {"Namespace"}

Doc = dict[str, Any]


def load_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def merge(target: Any, patch: Any) -> Any:
    if isinstance(target, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            target[key] = merge(target[key], value) if key in target else copy.deepcopy(value)
        return target
    if (
        isinstance(target, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in [*target, *patch])
    ):
        by_name = {item["name"]: item for item in target}
        for item in patch:
            if item["name"] in by_name:
                merge(by_name[item["name"]], item)
            else:
                target.append(copy.deepcopy(item))
        return target
    return copy.deepcopy(patch)


def pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return None


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"patch target {kind}/{name}: {len(matches)} matches"
    return matches[0]


def build(directory: Path) -> list[Doc]:
    """Render the kustomization in `directory` to a list of resources."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(spec) - SUPPORTED
    assert not unsupported, f"{directory}: kustomize features not supported here: {unsupported}"
    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory / 'kustomization.yaml'} lists missing {entry}"
        docs.extend(build(path) if path.is_dir() else load_docs(path))
    for patch in spec.get("patches", []):
        assert set(patch) == {"path"}, f"only file patches are supported: {patch}"
        path = directory / patch["path"]
        assert path.exists(), f"{directory / 'kustomization.yaml'} lists missing {patch['path']}"
        for part in load_docs(path):
            merge(find(docs, part["kind"], part["metadata"]["name"]), part)
    for image in spec.get("images", []):
        for doc in docs:
            pod = pod_spec(doc)
            for container in (pod or {}).get("containers", []):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = (
                        f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
                    )
    for group in spec.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(group["pairs"])
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = spec["namespace"]
    return docs
