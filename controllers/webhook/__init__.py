"""The webhook side of the manager, served on every replica (kopf runs only on the leader).

    server       one HTTPS port: admission, conversion, /healthz; certificates swapped in place
    admission    the workload mutating and validating webhooks (defaults, template defaults, rules)
    rules        the admission rules' checks (policies/admission `check`)
    pods         the pod mutating webhook (readiness gates)
    conversion   lossless conversion between served versions (Advanced StatefulSet v1alpha1 <-> v1beta1)
    certs        serving certificates in one of three modes (chart value webhook.certificates.mode)
    injector     the caBundle of our webhook configurations and the StatefulSet CRD's conversion
"""
