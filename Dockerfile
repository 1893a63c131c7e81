# Switchyard as a static binary in an empty image.
#
# Build the static binary first (no image is pulled):
#   RUSTFLAGS="-C target-feature=+crt-static" \
#     cargo build --release -p switchyard --target x86_64-unknown-linux-gnu
#   docker build -t switchyard .
# (or --build-arg BINARY=<path> for another build of it).
#
# The static configuration is read from /etc/switchyard/switchyard.yml (mount
# it) or from SWITCHYARD_* environment variables; enable `ping` there, the
# health check asks it.
FROM scratch
ARG BINARY=target/x86_64-unknown-linux-gnu/release/switchyard
COPY ${BINARY} /switchyard
EXPOSE 80 8080
ENTRYPOINT ["/switchyard"]
HEALTHCHECK --interval=5s --timeout=5s --start-period=5s --retries=3 CMD ["/switchyard", "healthcheck"]
