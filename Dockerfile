# The policy-engine service. durable-rules builds from source, so the build stage has gcc.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY policy_engine ./policy_engine
COPY schemas ./schemas
# Editable install (the package reads ../schemas/policy.schema.json beside itself), every
# dependency at the version constraints.txt pins.
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -c constraints.txt -e .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 policy
COPY --from=build /venv /venv
COPY --from=build /app /app
COPY policies /app/policies
WORKDIR /app
# The instance folder holds the embedded SQLite file when DATABASE_URL is not set.
RUN mkdir -p /app/instance && chown policy:policy /app/instance
USER policy
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    POLICY_ENGINE_POLICIES_DIR=/app/policies
RUN policy-engine validate policies/
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# Migrations first, then gunicorn (one request at a time per worker process, application
# preloaded). With DATABASE_URL set, also set POLICY_ENGINE_SECRET_KEY for the pages' sessions.
CMD ["sh", "-c", "policy-engine db upgrade && exec policy-engine serve --bind 0.0.0.0:8000"]
