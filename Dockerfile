# One image for every conveyor service; the command picks the service.
#
#   docker build -t conveyor:dev .                                  # this machine's architecture
#   docker buildx build --platform linux/amd64,linux/arm64 -t REPO/conveyor:TAG --push .
#
# Build arguments; the defaults are the public inputs. tools/image/build.sh passes local ones
# where Docker Hub, dl.k8s.io and PyPI cannot be reached from a build (see its header).
#   BASE_IMAGE           python:3.11-slim-bookworm pinned to the digest of its multi-arch index
#   KUBECTL_VERSION      kubectl (kustomize v5 inside) for the applier's build step, with its
#   KUBECTL_SHA256_AMD64 published sha256 per architecture
#   KUBECTL_SHA256_ARM64 (https://dl.k8s.io/release/VERSION/bin/linux/ARCH/kubectl.sha256)
#   KUBECTL_URL          take kubectl from there instead (e.g. file:///inputs/kubectl) ...
#   KUBECTL_SHA256       ... and check it against this sha256 (default: the published one)
#   PIP_INSTALL_OPTIONS  e.g. "--no-index --find-links /inputs/wheels" for prebuilt wheels
# TARGETARCH (set by the builder, else the base image's architecture) picks kubectl's binary
# and checksum: amd64 or arm64, any other architecture is refused.
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client gnupg ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
ARG TARGETARCH
ARG KUBECTL_VERSION=v1.34.1
ARG KUBECTL_SHA256_AMD64=7721f265e18709862655affba5343e85e1980639395d5754473dafaadcaa69e3
ARG KUBECTL_SHA256_ARM64=420e6110e3ba7ee5a3927b5af868d18df17aae36b720529ffa4e9e945aa95450
ARG KUBECTL_URL=
ARG KUBECTL_SHA256=
RUN set -eu; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
      amd64) published="$KUBECTL_SHA256_AMD64" ;; \
      arm64) published="$KUBECTL_SHA256_ARM64" ;; \
      *) echo "kubectl: no published checksum for architecture $arch" >&2; exit 1 ;; \
    esac; \
    url="${KUBECTL_URL:-https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$arch/kubectl}"; \
    sha256="${KUBECTL_SHA256:-$published}"; \
    echo "kubectl for $arch from $url, sha256 $sha256"; \
    curl -fsSLo /tmp/kubectl "$url"; \
    echo "$sha256  /tmp/kubectl" | sha256sum -c -; \
    install -m 0755 /tmp/kubectl /usr/local/bin/kubectl; \
    rm /tmp/kubectl; \
    kubectl version --client >/dev/null
WORKDIR /app
COPY pyproject.toml README.md ./
# conveyor/ is the import package: links to the two folders beside it
COPY conveyor ./conveyor
COPY shared ./shared
COPY services ./services
ARG PIP_INSTALL_OPTIONS=
RUN pip install --no-cache-dir $PIP_INSTALL_OPTIONS . \
 && groupadd --gid 65532 conveyor \
 && useradd --uid 65532 --gid 65532 --create-home conveyor \
 && install -d -o 65532 -g 65532 /var/lib/conveyor
USER 65532
ENV CONVEYOR_DATA=/var/lib/conveyor
ENTRYPOINT ["conveyor"]
CMD ["--help"]
