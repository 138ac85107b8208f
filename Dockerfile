# The reflexion-service image: API (`rfx serve`), worker (`rfx worker`), fake LLM and Docker proxy.
#
# Multi-stage: the builder has pip and builds a venv; the runtime stage gets only the venv and the
# source tree, runs as an unprivileged user, and has no compiler, pip cache or package lists.
# Base images are build arguments: offline, scripts/build-base-images makes the local Debian ones
# (the defaults); with a registry pass the official image unchanged to both, e.g.
#   docker build --build-arg BASE_IMAGE=python:3.11-slim --build-arg BUILDER_IMAGE=python:3.11-slim .
# Builder and runtime must be the same family (the venv links to that family's python3).
ARG BASE_IMAGE=rfx-debian-python:bookworm
ARG BUILDER_IMAGE=rfx-debian-python-build:bookworm

FROM ${BUILDER_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
WORKDIR /srv/rfx
# Dependencies first, from the wheelhouse scripts/stack-init downloaded from the lock
# (requirements/service.txt): no index is reached, every file's hash is checked again, and a code
# change does not reinstall them.
COPY build/wheels /tmp/wheels
RUN /opt/venv/bin/pip install -q --no-index --require-hashes --find-links /tmp/wheels \
      -r /tmp/wheels/requirements.txt
COPY pyproject.toml README.md ./
COPY app ./app
COPY prompts ./prompts
COPY sandbox ./sandbox
COPY requirements/sandbox.txt ./requirements/sandbox.txt
# Editable: prompts/ and sandbox/ stay beside app/ where app.paths looks for them.
# Then drop what only building needed: pip, setuptools, wheel, and the libraries' own test suites.
RUN /opt/venv/bin/pip install -q --no-index --no-build-isolation --no-deps -e . \
 && /opt/venv/bin/python -m compileall -q app \
 && /opt/venv/bin/pip uninstall -q -y pip setuptools wheel \
 && find /opt/venv/lib -depth -type d -name tests -path '*/site-packages/*/tests' -exec rm -rf {} +

FROM ${BASE_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /srv/rfx --shell /usr/sbin/nologin rfx \
 && mkdir -p /var/lib/rfx && chown rfx:rfx /var/lib/rfx
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /srv/rfx /srv/rfx
# The judge drives sandboxes with `docker run -i`; DOCKER_HOST points it at the filtering proxy.
COPY build/bin/docker /usr/local/bin/docker
ENV PATH=/opt/venv/bin:$PATH LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    RFX_DATA_DIR=/var/lib/rfx RFX_HOST=0.0.0.0 RFX_PORT=8000 MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /srv/rfx
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["rfx", "serve", "--host", "0.0.0.0", "--port", "8000"]
