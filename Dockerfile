# The policy engine: durable-rules builds from source, so the build stage has gcc.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY policy_engine ./policy_engine
COPY schemas ./schemas
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -e .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 policy
COPY --from=build /venv /venv
COPY --from=build /app /app
COPY policies /app/policies
WORKDIR /app
USER policy
ENV PATH=/venv/bin:$PATH
# The schema is read from /app/schemas, beside the package (editable install).
RUN policy-engine validate policies/
ENTRYPOINT ["policy-engine"]
CMD ["test", "policies/"]
