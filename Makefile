# ack-kruise: everything starts from `make setup`; then `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup images image demo bench chaos test test-unit test-e2e e2e-incluster lint verify generate release chart-ci sandbox-up sandbox-down clean

help:
	@echo "make setup      install everything on Debian 12 (root, idempotent; ~7 min cold, <1 min warm)"
	@echo "make images     build the sandbox's container images without Docker (run by make setup)"
	@echo "make image      build the kruise-manager image without Docker (cached) and load it into a running sandbox"
	@echo "make demo       start the sandbox and show workloads rolled out on it"
	@echo "make test       the full test suite (unit + e2e against a real kube-apiserver)"
	@echo "make bench [QUICK=1]  controllers vs kube-controller-manager and a raw client, the real node, 10,000 pods; writes bench/results*.md and .png"
	@echo "make chaos [QUICK=1]  manager kills, API server and etcd restarts, watch expiry, partition, cert rotation, leader kill; writes chaos/results.md"
	@echo "make test-unit  only the tests that need no API server"
	@echo "make generate   write CRDs, chart templates, docs and the runtime schema from schema/ and policies/"
	@echo "make lint       generated files up to date, the import layering (.importlinter), pyflakes (ruff)"
	@echo "make verify     fast checks: make lint, then the unit tests"
	@echo "make e2e-incluster  the packaged chart installed with that image on its own sandbox: walkthroughs, upgrade, faults"
	@echo "make release VERSION=x.y.z [REPO_URL=https://...] [REGISTRY=host[:port][/path]] [SIGN_KEY=<gpg key>]"
	@echo "               stamp, package (reproducibly), sign and index the chart into dist/; with REGISTRY, push the"
	@echo "               manager image and the chart (oci://REGISTRY/charts/ack-kruise, the image by digest) there"
	@echo "make chart-ci   helm template of every charts/ack-kruise/ci/*-values.yaml at every supported version, validated strictly"
	@echo "make sandbox-up / sandbox-down   the local cluster on its own"

setup:
	@bash scripts/setup.sh

images: $(PY)
	@$(BIN)/ack-kruise sandbox images

image: $(PY)
	@$(BIN)/ack-kruise image

e2e-incluster: $(PY)
	$(PY) -m pytest tests/e2e/incluster -m sandbox_lifecycle

$(PY):
	@echo "the virtualenv is missing: run \`make setup\` first" >&2; exit 1

demo: $(PY)
	@bash scripts/demo.sh

# Two sessions: the first shares one sandbox; the second starts and stops sandboxes of its own (the real
# node is machine-wide, so they cannot overlap).
# The real-node rollouts hold the machine-wide real-node lock while their sandbox runs.
bench: $(PY)
	$(PY) -m bench.run $(if $(QUICK),--quick)
	flock /tmp/ack-kruise-realnode.lock $(PY) -m bench.realnode $(if $(QUICK),--quick)
	$(PY) -m bench.scale $(if $(QUICK),--sizes 1000 --nodes 20 --out bench/.state/quick/results-scale.md)

chaos: $(PY)
	$(PY) -m chaos $(if $(QUICK),--quick)

# --durations: the slowest tests, so that the suite's 45-minute budget is watched where it is spent.
test: lint
	$(PY) -m pytest tests -m "not sandbox_lifecycle" --durations=25
	$(PY) -m pytest tests -m sandbox_lifecycle --durations=10

test-unit: $(PY)
	$(PY) -m pytest tests -m "not e2e"

test-e2e: $(PY)
	$(PY) -m pytest tests -m "e2e and not sandbox_lifecycle"

generate: $(PY)
	$(BIN)/ack-kruise generate

# What `make verify` and `make test` check first, in seconds: generated files up to date (names any file that
# drifted), the layering of .importlinter (which package may import which), and the pyflakes rules.
lint: $(PY)
	$(BIN)/ack-kruise generate --check
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check --no-cache --quiet .

# Fast checks (well under a minute): `make lint`, then the pure unit tests but the slow ones (CLI processes,
# fuzzing: marker `slow`). `make test` runs everything.
verify: lint
	$(PY) -m pytest tests/unit -q -x -m "not slow"

# Optional: REPO_URL (index.yaml's URLs), REGISTRY (push the image and the OCI chart; PLAIN_HTTP=1 for an HTTP
# registry other than localhost), SIGN_KEY (a gpg key of $$GNUPGHOME: <tgz>.prov), SIGN_PASSPHRASE_FILE,
# SIGN_KEY_URL (artifacthub.io/signKey), DIST (the chart repository folder, default dist/).
release: $(PY)
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z [REGISTRY=...] [SIGN_KEY=...]" >&2; exit 2; }
	$(PY) -m release.chart --version $(VERSION) $(if $(REPO_URL),--repo-url $(REPO_URL)) \
	  $(if $(REGISTRY),--registry $(REGISTRY)) $(if $(PLAIN_HTTP),--plain-http) \
	  $(if $(SIGN_KEY),--sign-key '$(SIGN_KEY)') \
	  $(if $(SIGN_PASSPHRASE_FILE),--sign-passphrase-file $(SIGN_PASSPHRASE_FILE)) \
	  $(if $(SIGN_KEY_URL),--sign-key-url $(SIGN_KEY_URL)) $(if $(DIST),--dist $(DIST))

# What chart CI runs instead of `helm lint`, which reports the chart's `fail` guards as [INFO] and succeeds.
chart-ci: $(PY)
	$(PY) -m pytest tests/chart/test_ci_values.py -q

sandbox-up: $(PY)
	@$(BIN)/ack-kruise sandbox up

sandbox-down: $(PY)
	@$(BIN)/ack-kruise sandbox down

clean:
	-$(BIN)/ack-kruise sandbox down 2>/dev/null
	rm -rf .pytest_cache build *.egg-info   # not dist/: it is the chart repository (make release)
