# matbench in a container: `docker build -t bench .`, then `docker run --gpus all bench gpu 10000`.
# For drivers older than R580 (CUDA 12.x): `docker build --build-arg CUDA_VERSION=12.8.1 -t bench:cu12 .`
#
# CUDA_VERSION is the one knob: it names the runtime image (nvidia/cuda:<version>-runtime-…),
# and its major chooses the binary's feature (cuda-12 or cuda-13, which decides the .so.N names
# it loads), so the two cannot disagree; tests/docker.rs checks the default against Cargo.toml.
ARG CUDA_VERSION=13.0.0

# Build stage: a release binary, with the exact dependency versions of Cargo.lock.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY kernels ./kernels
COPY benches ./benches
# .git is not sent to the build: pass the commit for the records (docker build --build-arg MATBENCH_GIT_COMMIT=$(git rev-parse HEAD) ...).
ARG MATBENCH_GIT_COMMIT=unknown
ENV MATBENCH_GIT_COMMIT=${MATBENCH_GIT_COMMIT}
ARG CUDA_VERSION
# The crate registry and the target directory are build caches (BuildKit, buildah): a rebuild
# downloads nothing and compiles only matbench. The cache is not in the image, so the binary
# is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin matbench --no-default-features --features "cuda-${CUDA_VERSION%%.*}" \
    && cp target/release/matbench /usr/local/bin/matbench

# Runtime stage, for the CUDA version above. What matbench loads at run time, and where each
# comes from (N is the CUDA major):
#   libcuda.so.1                 the host's NVIDIA driver, mounted into the container by the
#                                NVIDIA Container Toolkit when it starts with `--gpus all`
#                                (without it, `matbench gpu` says so and exits 3);
#   libcublas.so.N, libcublasLt.so.N
#                                cuBLAS, package libcublas-N-x of the runtime image;
#   libnvrtc.so.N, libnvrtc-builtins.so.N.x
#                                NVRTC, which compiles kernels/matbench.cu at start-up,
#                                package cuda-nvrtc-N-x of the runtime image.
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu24.04
LABEL org.opencontainers.image.title="matbench" \
      org.opencontainers.image.description="GPU and CPU matrix-multiply benchmark (C = A·Aᵀ, Σ C), verified and recorded" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
# The distribution's OpenBLAS, for `matbench cpu N --cpu-engine blas|auto`.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin matbench \
    && mkdir /results \
    && chown matbench:matbench /results
COPY --from=build /usr/local/bin/matbench /usr/local/bin/matbench
ENV MATBENCH_RESULTS_DIR=/results
VOLUME ["/results"]
USER 10001:10001
WORKDIR /home/matbench
ENTRYPOINT ["matbench"]
CMD ["--help"]
