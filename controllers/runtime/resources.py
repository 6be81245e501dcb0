"""The resource table (policies/controllers.yaml, carried into controllers/_generated/schema.json by the
generator): what the controllers watch and write, by kubectl-style key (`pods`, `controllerrevisions.apps`,
`clonesets.apps.kruise.io`, ...), and how the runtime writes each (see the policy file's header)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from kube import resource_path
from controllers.schema import SCHEMA_FILE


@dataclass(frozen=True)
class Resource:
    key: str
    api_version: str
    plural: str
    kind: str
    namespaced: bool
    slow_start: bool = False
    concurrent: bool = False
    warnings: dict[str, str] = field(default_factory=dict)
    go_json: bool = False

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def selector(self) -> tuple[str, ...]:
        """kopf's way of naming it: (group, version, plural), or (version, plural) for the core group."""
        return (*self.api_version.split("/"), self.plural)

    def path(self, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        return resource_path(self.api_version, self.plural, namespace if self.namespaced else None, name, subresource)


@lru_cache(maxsize=None)
def resources() -> dict[str, Resource]:
    table = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["resources"]
    return {key: Resource(key, r["apiVersion"], r["plural"], r["kind"], r["namespaced"], r.get("slowStart", False),
                          r.get("concurrent", False), r.get("warnings", {}), r.get("goJSON", False))
            for key, r in table.items()}
