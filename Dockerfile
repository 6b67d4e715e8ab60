# The tierwatch server: collector, read API and dashboard in one stateless process.
# Several of them run side by side against one PostgreSQL (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
# The instrumentation helper (sdk/) is a distribution of its own that tierwatch depends on.
RUN pip install ./sdk . \
    && useradd --system --uid 10001 --home-dir /app tierwatch

USER tierwatch
EXPOSE 4318
# /healthz answers 503 when the database is unreachable.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:4318/healthz', timeout=2).status != 200)"]

ENTRYPOINT ["tierwatch"]
CMD ["serve"]
