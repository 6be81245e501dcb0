"""Pull secrets for the daemons (kruise-daemon.md §2.7, v1.9.0 semantics): the kruise-daemon reads secrets only
in `kruise-daemon-config`, so the manager copies a job's pull secrets there. One copy per source secret, shared by
every job that names it (v1.9.0 #2301); its annotations say where it comes from and which jobs use it. A job that
finishes or goes removes itself from the references; the last one deletes the copy. A job in
`kruise-daemon-config` uses its secrets as they are. Pure."""
from __future__ import annotations

from typing import Any

from controllers.common.actions import CONFLICT, NOT_FOUND, Create, Delete, Patch

from . import api

JSON = dict[str, Any]
PULL_SECRET_TYPES = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")


def is_pull_secret(secret: JSON) -> bool:
    """What the manager's secret index holds: pull secrets only (the watch's `keep`)."""
    return secret.get("type") in PULL_SECRET_TYPES


def _fnv32a(text: str) -> str:
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def copy_name(namespace: str, name: str) -> str:
    """A stable name per source secret, so every job finds the same copy (upstream uses generateName)."""
    return f"{name[:200]}-{_fnv32a(f'{namespace}/{name}')}"


def _job_key(job: JSON) -> str:
    return f"{api.meta(job).get('namespace', '')}/{api.meta(job).get('name', '')}"


def _references(secret: JSON) -> list[str]:
    text = (api.meta(secret).get("annotations") or {}).get(api.REFERENCES_ANNOTATION) or ""
    return [r for r in text.split(",") if r]


def _in_daemon_namespace(job: JSON) -> bool:
    return api.meta(job).get("namespace") == api.DAEMON_CONFIG_NAMESPACE


def copies_of(job: JSON, secrets: list[JSON]) -> dict[str, JSON]:
    """Source secret name → its copy (or the secret itself for a job in kruise-daemon-config)."""
    namespace = api.meta(job).get("namespace", "")
    wanted = api.spec(job).get("pullSecrets") or []
    where = api.DAEMON_CONFIG_NAMESPACE
    by_name = {api.meta(s).get("name"): s for s in secrets if api.meta(s).get("namespace") == where}
    if _in_daemon_namespace(job):
        return {n: by_name[n] for n in wanted if n in by_name}
    return {n: by_name[copy_name(namespace, n)] for n in wanted if copy_name(namespace, n) in by_name}


def synced_refs(job: JSON, copies: dict[str, JSON]) -> list[JSON]:
    """The NodeImage pullSecrets entries for the job: its copies that exist, in the job's order."""
    return [{"namespace": api.DAEMON_CONFIG_NAMESPACE, "name": api.meta(copies[n])["name"]}
            for n in api.spec(job).get("pullSecrets") or [] if n in copies]


def secret_actions(job: JSON, secrets: list[JSON], keep: bool) -> list:
    """keep: create or refresh the job's copies (data follows the source, the job among the references);
    not keep: the job leaves the references of every copy, and a copy nobody references goes."""
    if _in_daemon_namespace(job):
        return []
    namespace, me = api.meta(job).get("namespace", ""), _job_key(job)
    sources = {api.meta(s).get("name"): s for s in secrets if api.meta(s).get("namespace") == namespace}
    copies = {api.meta(s).get("name"): s for s in secrets
              if api.meta(s).get("namespace") == api.DAEMON_CONFIG_NAMESPACE}
    actions: list = []
    if not keep:
        for copy in copies.values():
            refs = _references(copy)
            if me not in refs:
                continue
            rest = [r for r in refs if r != me]
            name, meta = api.meta(copy)["name"], api.meta(copy)
            if not rest:
                actions.append(Delete(api.SECRETS, name, meta.get("uid"), namespace=api.DAEMON_CONFIG_NAMESPACE,
                                      ignore=(NOT_FOUND, CONFLICT)))
            else:
                body = {"metadata": {"resourceVersion": meta.get("resourceVersion"),
                                     "annotations": {api.REFERENCES_ANNOTATION: ",".join(rest)}}}
                actions.append(Patch(api.SECRETS, name, body, "merge", namespace=api.DAEMON_CONFIG_NAMESPACE))
        return actions
    for source_name in api.spec(job).get("pullSecrets") or []:
        source = sources.get(source_name)
        if source is None:
            continue  # not there (yet): its creation wakes the job
        name = copy_name(namespace, source_name)
        copy = copies.get(name)
        if copy is None:
            meta = api.meta(source)
            body = {"apiVersion": "v1", "kind": "Secret", "type": source.get("type"), "data": source.get("data") or {},
                    "metadata": {"name": name, "namespace": api.DAEMON_CONFIG_NAMESPACE,
                                 "labels": dict(meta.get("labels") or {}),
                                 "annotations": {**(meta.get("annotations") or {}),
                                                 api.SOURCE_KEY_ANNOTATION: f"{namespace}/{source_name}",
                                                 api.REFERENCES_ANNOTATION: me,
                                                 api.MODE_ANNOTATION: api.MODE_BATCH}}}
            actions.append(Create(api.SECRETS, body))
            continue
        refs = _references(copy)
        if me in refs and copy.get("data") == source.get("data"):
            continue
        body = {"metadata": {"resourceVersion": api.meta(copy).get("resourceVersion"),
                             "annotations": {api.REFERENCES_ANNOTATION: ",".join(sorted({*refs, me}))}},
                "data": source.get("data") or {}}
        actions.append(Patch(api.SECRETS, name, body, "merge", namespace=api.DAEMON_CONFIG_NAMESPACE))
    return actions
