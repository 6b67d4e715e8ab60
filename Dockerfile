# The tierwatch server: collector, read API and dashboard in one stateless process.
# Several of them run side by side against one PostgreSQL (see docker-compose.yml).
# The base image is pinned by version; docs/deployment.md says how to pin its digest.
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, exactly as locked and checked against their hashes
# (requirements.lock; docs/deployment.md says how to regenerate it).
COPY requirements.lock .
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY . .
# The instrumentation helper (sdk/) is a distribution of its own that tierwatch depends on;
# every dependency is already installed from the lock.
RUN pip install --no-deps --no-build-isolation --no-index ./sdk . \
    && useradd --system --uid 10001 --home-dir /var/lib/tierwatch --create-home tierwatch

# The service user's own folder is the working directory, so the default
# sqlite:///./tierwatch.db is writable there; mount a volume on it to keep it.
WORKDIR /var/lib/tierwatch
USER tierwatch
EXPOSE 4318
# /healthz answers 503 when the database is unreachable.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:4318/healthz', timeout=2).status != 200)"]

ENTRYPOINT ["tierwatch"]
CMD ["serve"]
