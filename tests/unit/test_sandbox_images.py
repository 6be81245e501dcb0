"""The real node pulls every image name our tests and the seed use from the local registry: names of other
registries (the seed's registry.cn-hangzhou.aliyuncs.com) go through a containerd mirror, so a template's
`imagePullPolicy: Always` (OpenKruise's default) works offline."""
from __future__ import annotations

import tomllib
from pathlib import Path

from sandbox import images, realnode


def test_every_name_of_another_registry_is_pushed_under_the_same_path() -> None:
    pushed = {name.split("/", 1)[1] for name in images.pushed_names()}
    others = [name for name in images.all_names() if not name.startswith(images.LOCAL_REGISTRY + "/")]
    assert others, "the seed's images"
    assert [name for name in others if name.split("/", 1)[1] not in pushed] == []
    assert images.mirrored_registries() == ["registry.cn-hangzhou.aliyuncs.com"]


def test_containerd_pulls_those_registries_from_the_local_registry(tmp_path: Path) -> None:
    config = tomllib.loads(realnode.containerd_config(realnode.NodePaths(tmp_path)))
    mirrors = config["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["mirrors"]
    local = {"endpoint": [f"http://{realnode.REGISTRY_ADDR}"]}
    assert mirrors == {registry: local for registry in ["localhost:5000", *images.mirrored_registries()]}
