"""API access shared by the manager, the sandbox, the bench and the tests: config, an async client with
request hooks, a work queue, leader election, and list+watch with informers (the manager's shared watches, the
SidecarSet cache, the daemon, the sandbox's node simulator and the bench; kopf watches only the workloads)."""
from .client import (ApiError, KubeClient, RequestHook, add_request_hook, resource_path, MERGE_PATCH,
                     STRATEGIC_MERGE_PATCH, JSON_PATCH)
from .config import ClusterConfig, ConfigError, load as load_config
from .informer import Informer, key_of

__all__ = [
    "ApiError", "KubeClient", "RequestHook", "add_request_hook", "resource_path",
    "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "JSON_PATCH",
    "ClusterConfig", "ConfigError", "load_config", "Informer", "key_of",
]
