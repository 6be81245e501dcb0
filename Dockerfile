# The kruise-manager image: the ack-kruise wheel on python:3.11-slim, run as `ack-kruise manager` by the
# chart's Deployment (charts/ack-kruise). Build from the repository root:
#
#   docker build -t <registry>/ack-kruise/kruise-manager:<appVersion> .
#
# then install the chart with --set manager.image.repository=<registry>/ack-kruise/kruise-manager (the tag
# defaults to the chart's appVersion). See charts/ack-kruise/README.md, "The manager image".

# Stage 1: the project wheel and the wheels of its dependencies.
FROM python:3.11-slim AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ack_kruise ack_kruise
COPY apischema apischema
COPY controllers controllers
COPY daemon daemon
COPY generator generator
COPY kube kube
COPY release release
COPY sandbox sandbox
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Stage 2: only the installed wheels; no compiler, no sources.
FROM python:3.11-slim
COPY --from=wheels /wheels /wheels
# The last command checks that the wheel carries the generated runtime schema the manager validates and
# defaults objects with: better a failed build than a failing pod.
RUN pip install --no-cache-dir --no-index /wheels/*.whl \
 && rm -rf /wheels \
 && python -c "from controllers import schema; schema.default_schema()"
ENV PYTHONUNBUFFERED=1
# The chart runs the container as 65534 with a read-only root file system and an emptyDir on /tmp.
USER 65534:65534
ENTRYPOINT ["ack-kruise"]
CMD ["manager"]
