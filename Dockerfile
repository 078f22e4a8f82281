# One image for every process of the platform; compose picks the command per service.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# /keys is where the migrate step writes the JWT key pair (a named volume in compose);
# creating it here gives the volume to the non-root user.
RUN useradd --create-home --uid 10001 app && mkdir /keys && chown app:app /keys

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e .

# Locust and the load-test gate (compose profile `load`).
FROM base AS load
RUN pip install -e '.[dev]'
USER app
CMD ["python", "-m", "loadtest", "--help"]

# The default target: an API process (compose overrides the command for each service).
FROM base AS app
USER app
EXPOSE 8001 8002 8003 8004
CMD ["python", "-m", "uvicorn", "command_api.app:app", "--host", "0.0.0.0", "--port", "8002", "--no-proxy-headers", "--no-access-log"]
