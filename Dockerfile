# Mirrors the README's install: Python 3.11, `pip install .`, the service on its defaults.
# (No Docker engine runs on the development machines; keep this in step with the Makefile.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HUASHU_SCRIPTS_DIR=/srv/huashu/scripts_data

WORKDIR /srv/huashu
RUN useradd --system --create-home --home-dir /home/huashu huashu

COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY scripts_data ./scripts_data
# gcc for the engine's compiled parts (app/engine/_scan.c, and the modules mypyc compiles: setup.py),
# removed once they are built
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /srv/huashu/data \
    && chown -R huashu:huashu /srv/huashu/data

USER huashu
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Serving 0.0.0.0 needs HUASHU_API_KEYS (tenant:key,...): without keys huashu serve refuses to
# start open to the network (HUASHU_INSECURE=1 overrides that). Calls are kept in
# /srv/huashu/data/huashu.db unless HUASHU_DATABASE_URL names a PostgreSQL database.
CMD ["huashu", "serve", "--host", "0.0.0.0", "--port", "8000"]
