"""API access shared by the manager, the sandbox and the tests: config, an async client, informers."""
from .client import ApiError, KubeClient, resource_path, MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH
from .config import ClusterConfig, ConfigError, load as load_config
from .informer import Informer, key_of

__all__ = [
    "ApiError", "KubeClient", "resource_path", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "JSON_PATCH",
    "ClusterConfig", "ConfigError", "load_config", "Informer", "key_of",
]
