# Mirrors the README's install: Python 3.11, `pip install .`, the service on its defaults.
# (No Docker engine runs on the development machines; keep this in step with the Makefile.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HUASHU_SCRIPTS_DIR=/srv/huashu/scripts_data

WORKDIR /srv/huashu
RUN useradd --system --create-home --home-dir /home/huashu huashu

COPY pyproject.toml README.md ./
COPY app ./app
COPY scripts_data ./scripts_data
RUN pip install --no-cache-dir . \
    && mkdir -p /srv/huashu/data \
    && chown -R huashu:huashu /srv/huashu/data

USER huashu
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["huashu", "serve", "--host", "0.0.0.0", "--port", "8000"]
