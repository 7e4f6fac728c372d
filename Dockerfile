# matbench in a container: `docker build -t bench .`, then `docker run --gpus all bench gpu 10000`.
#
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
RUN cargo build --release --locked --bin matbench

# Runtime stage. The CUDA major of this image must match the cudarc feature in Cargo.toml
# (cuda-13000): it decides which libraries' .so.13 names matbench looks for (tests/docker.rs
# checks the two agree). What matbench loads at run time, and where each comes from:
#   libcuda.so.1                 the host's NVIDIA driver, mounted into the container by the
#                                NVIDIA Container Toolkit when it starts with `--gpus all`
#                                (without it, `matbench gpu` says so and exits 3);
#   libcublas.so.13, libcublasLt.so.13
#                                cuBLAS, package libcublas-13-0 of this runtime image;
#   libnvrtc.so.13, libnvrtc-builtins.so.13.0
#                                NVRTC, which compiles kernels/matbench.cu at start-up,
#                                package cuda-nvrtc-13-0 of this runtime image.
FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04
LABEL org.opencontainers.image.title="matbench" \
      org.opencontainers.image.description="GPU and CPU matrix-multiply benchmark (C = A·Aᵀ, Σ C), verified and recorded" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin matbench \
    && mkdir /results \
    && chown matbench:matbench /results
COPY --from=build /src/target/release/matbench /usr/local/bin/matbench
ENV MATBENCH_RESULTS_DIR=/results
VOLUME ["/results"]
USER 10001:10001
WORKDIR /home/matbench
ENTRYPOINT ["matbench"]
CMD ["--help"]
