# Runtime image for one hms service, around a binary built on the host:
#
#   cargo build --release --bins
#   docker build --build-arg SERVICE=orders --build-arg PROFILE=release \
#     -t hms-orders .
#
# Nothing is compiled in here. Tilt (and CI) build all four binaries once with
# cargo's incremental cache, and each image only adds one file to a shared
# base layer, so a rebuild takes seconds. The build context is only the
# binaries (see .dockerignore).
#
# The binaries link glibc dynamically: the base image's glibc must be at least
# as new as the one they were built against. bookworm has 2.36; a host with a
# newer glibc builds with --build-arg BASE_IMAGE=debian:trixie-slim, or builds
# the binaries in a bookworm container.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# ca-certificates: TLS to S3, the OTLP collector and managed databases.
# A fixed uid/gid that matches runAsUser/runAsGroup in the manifests.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hms \
    && useradd --system --uid 10001 --gid hms --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin hms

# Declared after the shared layer above, so the four images share it.
ARG SERVICE
ARG PROFILE=debug
# The binary: hms-<service>, or a development fake's own name (sms-fake,
# card-producer-fake, registers-fake).
ARG BINARY=hms-${SERVICE}
RUN test -n "${SERVICE}" \
    || { echo "build with --build-arg SERVICE=<identity|companies|audit|orders|media|redaction|cards|notifications|gateway|web>" >&2; exit 1; }

# The manifests call the binary by its real name (`hms-orders migrate`);
# hms-service is the same file under one name for every image's ENTRYPOINT.
COPY target/${PROFILE}/${BINARY} /usr/local/bin/${BINARY}
RUN ln -s ${BINARY} /usr/local/bin/hms-service

LABEL org.opencontainers.image.title="hms-${SERVICE}"

USER 10001:10001
ENTRYPOINT ["/usr/local/bin/hms-service"]
CMD ["serve"]
