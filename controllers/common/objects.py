"""Accessors every API object shares (metadata: name, uid, labels, annotations, finalizers, creation and
deletion), for pods, revisions and PVCs alike. Objects are plain dicts; every accessor tolerates missing
fields."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .times import parse_time

JSON = dict[str, Any]


def meta(obj: JSON) -> JSON:
    return obj.get("metadata") or {}


def name_of(obj: JSON) -> str:
    return meta(obj).get("name") or ""


def uid_of(obj: JSON) -> str:
    return meta(obj).get("uid") or ""


def labels_of(obj: JSON) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: JSON) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def finalizers_of(obj: JSON) -> list[str]:
    return meta(obj).get("finalizers") or []


def creation_time(obj: JSON) -> datetime | None:
    return parse_time(meta(obj).get("creationTimestamp"))


def is_terminating(obj: JSON) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))
