# procession: one service process per container (scale with more containers, or `serve --workers N`).
FROM python:3.11-slim

# No .pyc files on a read-only layer; logs go straight out (they are JSON lines on stderr).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PROCESSION_HOST=0.0.0.0 PROCESSION_PORT=8080 PROCESSION_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY events ./events
COPY contracts ./contracts
COPY projections ./projections
COPY infra ./infra
COPY services ./services
RUN pip install --no-cache-dir . && useradd --uid 10001 --create-home procession \
    && mkdir -p /data && chown procession /data

USER procession
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM starts the graceful shutdown, over within PROCESSION_SHUTDOWN_TIMEOUT_SECONDS (20 s by
# default); `docker stop` SIGKILLs after 10 s: use `docker stop -t 30`, or see docs/operations.md.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["procession"]
CMD ["serve"]
