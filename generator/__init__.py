"""Generates every artefact of the apps.kruise.io API from one schema source (schema/) and the policies
(policies/): CRDs per Kubernetes variant, chart templates, webhook configurations, values schema, API docs,
Chart.yaml annotations and the runtime schema the controllers load.

Entry point: `generate_all(inputs) -> dict[path, text]` in generator.pipeline; `ack-kruise generate` wraps it.
"""
