"""`ack-kruise manager` with every API request it sends counted by what it touches, for profiling:
`python -m bench.traced_manager <manager arguments>` with $ACK_KRUISE_TRACE_FILE set; the counts are
written there as JSON every half second (key: `METHOD resource[/subresource] [patch fields]`).

`python -m bench.run --trace` runs the sandbox's manager this way and prints the breakdown per phase; the
published figures come from the plain manager (the tracer costs a little CPU).
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections import Counter

import kube

COUNTS: Counter[str] = Counter()
_ID = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/([^/]+)(?:/[^/]+)?(?:/([^/]+))?$")


def _fields(body: object) -> str:
    """The shape of a patch: `status.conditions[InPlaceUpdateReady]`, `metadata{annotations}+spec{containers}`."""
    if isinstance(body, list):  # a JSON patch
        return "jsonpatch(" + ",".join(sorted({str(op.get("path", "")).split("/")[1] if isinstance(op, dict) else "?"
                                                for op in body})) + ")"
    if not isinstance(body, dict):
        return ""
    parts = []
    for k, v in sorted(body.items()):
        if isinstance(v, dict) and isinstance(v.get("conditions"), list):
            types = sorted(str(c.get("type")) for c in v["conditions"] if isinstance(c, dict))
            rest = sorted(set(v) - {"conditions"})
            parts.append(f"{k}.conditions[{','.join(types)}]" + (f"{{{','.join(rest)}}}" if rest else ""))
        elif isinstance(v, dict) and k in ("metadata", "spec"):
            parts.append(f"{k}{{{','.join(sorted(v))}}}")
        else:
            parts.append(k)
    return "+".join(parts)


def key_of(method: str, path: str, body: object = None) -> str:
    m = _ID.match(path.split("?")[0])
    what = path if not m else m.group(1) + (f"/{m.group(2)}" if m.group(2) else "")
    shape = _fields(body) if method == "PATCH" else ""
    return f"{method} {what}" + (f" {shape}" if shape else "")


def _count(method: str, path: str, body: object, status: int) -> None:
    COUNTS[key_of(method, path, body)] += 1


def install(trace_file: str) -> None:
    kube.add_request_hook(_count)

    def dump() -> None:
        while True:
            time.sleep(0.5)
            tmp = trace_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(dict(COUNTS), f)
            os.replace(tmp, trace_file)

    threading.Thread(target=dump, daemon=True).start()


def read(trace_file: str) -> Counter[str]:
    try:
        with open(trace_file) as f:
            return Counter(json.load(f))
    except (OSError, ValueError):
        return Counter()


def main() -> int:
    install(os.environ["ACK_KRUISE_TRACE_FILE"])
    from ack_kruise.cli import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
