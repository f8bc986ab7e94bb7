# feedbot as a container: the daemon serving the feeds on :8080 and running the bot.
#
#   docker build -t feedbot .
#   docker run -p 8080:8080 -v feedbot-data:/data feedbot
#
# The base image is a build argument so tests can substitute a local stand-in;
# everything here uses `python3 -m ...`, which works on the official python
# images and on plain Debian's python3 alike.
ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: a virtual environment with feedbot and its pinned dependencies ---
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
# Dependencies first (their layer is reused while only the code changes) ...
# (README.md is a stub here so editing the docs does not reinstall everything.)
COPY constraints.txt pyproject.toml LICENSE ./
RUN mkdir feedbot && touch feedbot/__init__.py README.md \
    && /opt/venv/bin/python3 -m pip install -c constraints.txt . \
    && /opt/venv/bin/python3 -m pip uninstall -y feedbot \
    && rm -rf feedbot build ./*.egg-info README.md
# ... then feedbot itself, installed non-editable into the venv.
COPY README.md ./
COPY feedbot ./feedbot
RUN /opt/venv/bin/python3 -m pip install --no-deps -c constraints.txt . \
    && /opt/venv/bin/python3 -m compileall -q /opt/venv/lib

# --- runtime: the venv, the default index and config, no compilers ---
FROM ${PYTHON_IMAGE}
ARG APP_UID=10001
# Settings, not code patches: listen on all interfaces inside the container and keep
# the database on the data volume. Any key can be overridden as FEEDBOT_<SECTION>__<KEY>.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FEEDBOT_CONFIG=/app/config/feedbot.toml \
    FEEDBOT_HTTP__HOST=0.0.0.0 \
    FEEDBOT_STORAGE__PATH=/data/feedbot.sqlite3
RUN groupadd --gid ${APP_UID} feedbot \
    && useradd --uid ${APP_UID} --gid feedbot --home-dir /data \
       --no-create-home --shell /usr/sbin/nologin feedbot \
    && mkdir -p /data \
    && chown feedbot:feedbot /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The shipped seeds are the default index (config: index.path = "seeds" = /app/seeds);
# mount your own folder over /app/seeds, read-only is enough.
COPY config/feedbot.toml /app/config/feedbot.toml
COPY seeds /app/seeds
VOLUME ["/data"]
USER feedbot
EXPOSE 8080
# No curl in the image: ask /healthz with the Python that is already there, on the
# port the settings say (FEEDBOT_HTTP__PORT or the config file).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; from feedbot.config import load_settings; port = load_settings().http.port; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["feedbot"]
CMD ["run"]
