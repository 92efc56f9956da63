# One image per service, built from the repository root with the service's name:
#   docker build --build-arg SERVICE=poll-api   --build-arg PORT=8000 -t zephyr/poll-api .
#   docker build --build-arg SERVICE=ws-gateway --build-arg PORT=8001 -t zephyr/ws-gateway .
#   docker build --build-arg SERVICE=vote-worker --build-arg PORT=8002 -t zephyr/vote-worker .
#   docker build --build-arg SERVICE=audit-sink --build-arg PORT=8003 -t zephyr/audit-sink .
# The image runs the service's entry point (`poll-api`, …): `serve` by default, or `migrate`,
# `retention` as arguments.
FROM python:3.11-slim AS build
ARG SERVICE
RUN case "$SERVICE" in poll-api|ws-gateway|vote-worker|audit-sink) ;; \
      *) echo "build with --build-arg SERVICE=poll-api|ws-gateway|vote-worker|audit-sink" >&2; exit 2;; esac
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first (cached while only the source changes), then the workspace members.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/pyproject.toml
COPY libs/zephyr_runtime/pyproject.toml libs/zephyr_runtime/pyproject.toml
COPY services/poll-api/pyproject.toml services/poll-api/pyproject.toml
COPY services/ws-gateway/pyproject.toml services/ws-gateway/pyproject.toml
COPY services/vote-worker/pyproject.toml services/vote-worker/pyproject.toml
COPY services/audit-sink/pyproject.toml services/audit-sink/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace --package "$SERVICE"
COPY libs libs
COPY services/${SERVICE} services/${SERVICE}
RUN uv sync --frozen --no-dev --no-editable --package "$SERVICE"

FROM python:3.11-slim
ARG SERVICE
ARG PORT=8000
RUN useradd --system --uid 10001 zephyr
COPY --from=build /app/.venv /app/.venv
# ZEPHYR_HOST is every service's fallback for <PREFIX>_HOST; each service has its own port.
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 ZEPHYR_HOST=0.0.0.0 ZEPHYR_SERVICE=${SERVICE}
USER zephyr
EXPOSE ${PORT}
STOPSIGNAL SIGTERM
ENTRYPOINT ["sh", "-c", "exec \"$ZEPHYR_SERVICE\" \"$@\"", "--"]
CMD ["serve"]
