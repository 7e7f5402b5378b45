# syntax=docker/dockerfile:1
#
# medtech in a container: the static musl binary of a GitHub release, checked against the
# checksum published beside it, on distroless/static: CA certificates (medtech calls AWS over
# TLS), a `nonroot` user, no shell, no package manager. Nothing is compiled here and nothing is
# taken from the build context (.dockerignore excludes it all).
#
#   docker build --build-arg MEDTECH_VERSION=0.1.0 -t medtech:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg MEDTECH_VERSION=0.1.0 .
#   docker run --rm -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     -e AWS_SESSION_TOKEN -v "$PWD:/work" medtech:0.1.0 plan --env dev
#
# State (`state/`) and outputs (`cfn-outputs/`) are written under /work: mount a directory
# there that user 65532 may write, or they go when the container does.

# Downloads run on the builder's own platform; only the archive differs per target platform.
FROM --platform=$BUILDPLATFORM debian:trixie-slim AS fetch
ARG MEDTECH_VERSION
ARG TARGETARCH
ARG RELEASES=https://github.com/medtech-health/medtech/releases/download
# Unpinned: this stage only downloads and is discarded; what ships is checked by its sha256.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /fetch
RUN set -eu; \
    if [ -z "${MEDTECH_VERSION:-}" ]; then \
        echo "MEDTECH_VERSION is not set: pass --build-arg MEDTECH_VERSION=X.Y.Z (a release tag without the v)" >&2; exit 1; \
    fi; \
    case "$TARGETARCH" in \
        amd64) arch=x86_64 ;; \
        arm64) arch=aarch64 ;; \
        *) echo "no medtech release for $TARGETARCH: there are linux/amd64 and linux/arm64" >&2; exit 1 ;; \
    esac; \
    archive="medtech-${arch}-unknown-linux-musl"; \
    curl --fail --silent --show-error --location --remote-name-all \
        "$RELEASES/v$MEDTECH_VERSION/$archive.tar.gz" "$RELEASES/v$MEDTECH_VERSION/$archive.tar.gz.sha256"; \
    sha256sum --check "$archive.tar.gz.sha256"; \
    tar -xzf "$archive.tar.gz"; \
    install -D -m 0755 "$archive/medtech" /out/medtech; \
    mkdir -p /out/work

FROM gcr.io/distroless/static-debian13:nonroot
ARG MEDTECH_VERSION
LABEL org.opencontainers.image.title="medtech" \
      org.opencontainers.image.version="${MEDTECH_VERSION}" \
      org.opencontainers.image.source="https://github.com/medtech-health/medtech" \
      org.opencontainers.image.licenses="Apache-2.0"
# rustls-native-certs reads the system bundle; say where it is rather than rely on probing.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=fetch /out/medtech /usr/local/bin/medtech
COPY --from=fetch --chown=65532:65532 /out/work /work
WORKDIR /work
# distroless's `nonroot`, by number so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/medtech"]
CMD ["--help"]
