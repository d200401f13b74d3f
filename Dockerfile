# gomme's container image. Build it at the repository's root: `docker build -t gomme:0.1.0 .`
# deploy/ runs it: docker-compose.yml, and Kubernetes manifests in deploy/kubernetes/.
#
# It runs as uid 10001, never root, and writes only in
#   /var/lib/gomme  the state home (XDG_STATE_HOME=/var/lib): state database, key file, access bundles; a volume
#   /tmp            scratch files (SQLite's, Python's): a tmpfs or an emptyDir when the root filesystem is read-only
# so it runs with a read-only root filesystem. The configuration is mounted read-only at /etc/gomme/config.toml
# (GOMME_CONFIG); secrets come from the environment: GOMME_SECRET_KEY and the variables the config's `*_env`
# keys name (deploy/secrets.env.example). The entrypoint is `gomme`: the command is its arguments.

# -- build: a virtual environment with gomme and its dependencies (binary wheels: no compiler needed) --
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/gomme
# .dockerignore lets in only what the install needs: pyproject.toml, README.md and the package's sources.
COPY . /src
RUN /opt/gomme/bin/pip install /src

# -- runtime: the virtual environment, read-only, and an unprivileged user --
FROM python:3.11-slim
RUN groupadd --system --gid 10001 gomme \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin gomme \
 && install --directory --owner=10001 --group=10001 --mode=0700 /var/lib/gomme
COPY --from=build /opt/gomme /opt/gomme
ENV PATH=/opt/gomme/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/nonexistent \
    XDG_STATE_HOME=/var/lib \
    TMPDIR=/tmp \
    GOMME_CONFIG=/etc/gomme/config.toml
VOLUME ["/var/lib/gomme"]
WORKDIR /var/lib/gomme
USER 10001:10001
# /healthz and /metrics, with `[daemon] address = "0.0.0.0:9464"` in the config (deploy/config.toml).
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["gomme"]
CMD ["daemon"]
