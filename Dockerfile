# One image for every conveyor service; the command picks the service.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client gnupg ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# kubectl (with kustomize v5 inside) for the applier's build step
ARG KUBECTL_VERSION=v1.34.1
RUN curl -fsSLo /usr/local/bin/kubectl \
      "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl" \
 && chmod +x /usr/local/bin/kubectl
WORKDIR /app
COPY pyproject.toml README.md ./
# conveyor/ is the import package: links to the two folders beside it
COPY conveyor ./conveyor
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir . \
 && groupadd --gid 65532 conveyor \
 && useradd --uid 65532 --gid 65532 --create-home conveyor \
 && install -d -o 65532 -g 65532 /var/lib/conveyor
USER 65532
ENV CONVEYOR_DATA=/var/lib/conveyor
ENTRYPOINT ["conveyor"]
CMD ["--help"]
