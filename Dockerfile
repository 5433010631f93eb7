# Quanzi service image: multi-stage, runs as a non-root user.
#   docker build -t quanzi .
#   docker compose up          (compose.yaml: PostgreSQL, Redis, two nodes, nginx)
#
# Stage 1 installs the locked runtime dependencies (requirements.prod.lock: no dev tools,
# no in-process Redis; hashes checked) into a virtualenv, and the project from
# /srv/quanzi (where app/migrate.py finds alembic.ini and migrations/ beside the code).
# Stage 2 copies the virtualenv and the source, adds the Chinese font, and runs as the
# unprivileged user "quanzi".

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/quanzi
COPY requirements.prod.lock /tmp/
RUN /opt/quanzi/bin/pip install --require-hashes -r /tmp/requirements.prod.lock
WORKDIR /srv/quanzi
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY social ./social
COPY games ./games
COPY content ./content
COPY migrations ./migrations
RUN /opt/quanzi/bin/pip install --no-deps -e . && find /srv/quanzi -name __pycache__ -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm AS runtime
# The Chinese font of the rendered pictures (app/fonts.py) and fontconfig to find it.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system quanzi && useradd --system --gid quanzi --home-dir /srv/quanzi quanzi
COPY --from=build /opt/quanzi /opt/quanzi
COPY --from=build /srv/quanzi /srv/quanzi
WORKDIR /srv/quanzi
ENV PATH=/opt/quanzi/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    QUANZI_ENV=prod \
    QUANZI_DATA_DIR=/srv/quanzi/var
RUN mkdir -p /srv/quanzi/var && chown quanzi:quanzi /srv/quanzi/var
USER quanzi
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["quanzi", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
