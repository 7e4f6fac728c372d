#!/usr/bin/env bash
# Builds the repository's own Dockerfile, as it stands, with podman, and runs the image the way
# a user would (README, "With Docker"). Called by .ci/run; runs alone too.
#
# Where a registry is reachable, the Dockerfile's real base images are used. Where none is (as
# on the project's machines), local stand-ins are made first under the exact names of the FROM
# lines, from the distribution's packages:
#   rust:1.95-bookworm                    Debian bookworm (debootstrap) + gcc + this machine's
#                                         own Rust toolchain, with RUSTUP_HOME/CARGO_HOME/PATH
#                                         set as the real image sets them;
#   nvidia/cuda:13.0.0-runtime-ubuntu24.04  Debian bookworm (Ubuntu's archive is not reachable),
#                                         without NVIDIA's libraries: as in a container started
#                                         without --gpus all, the driver is missing, and matbench
#                                         must say so.
# The stand-ins are kept in podman's storage and reused by later runs on the same machine, and
# the build caches the cargo registry, so a second run rebuilds only matbench.
#
# What this proves: every instruction of the Dockerfile, the build with --locked, the user, the
# volume, the entrypoint and the run-time behaviour without a GPU. What it cannot: the real base
# images' contents and `--gpus all` on a GPU host (there is no container engine there).
set -euo pipefail
cd "$(dirname "$0")/.."

# podman marks its containers with /run/.containerenv; a container inside one (the fresh-machine
# check, scripts/fresh-machine.sh) is a different problem. (/.dockerenv alone is not enough:
# the project's own machines carry it and run podman fine.)
if [ -f /run/.containerenv ]; then
  echo "SKIPPED image check: this is inside a podman container (a container inside a container is not built here)"
  exit 0
fi

need=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "image-check: installing ${need[*]} (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

podman=(podman --runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
# The base images, read from the Dockerfile's FROM lines (the build stage and one runtime
# image per CUDA major).
builder=docker.io/library/$(awk '/^FROM .* AS build$/ {print $2}' Dockerfile)
cuda_version=$(awk -F= '/^ARG CUDA_VERSION=/ {print $2; exit}' Dockerfile)
runtimes=$(awk '/^FROM nvidia\/cuda:/ {print "docker.io/" $2}' Dockerfile | sed "s/\${CUDA_VERSION}/$cuda_version/")
image=localhost/matbench-check:latest

# The distribution mirror this machine already uses (never a host name written here).
mirror() {
  grep -h -m1 -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//'
}

# A bookworm root file system in $1, with the workplace's CA bundle (TLS is re-signed here).
rootfs() {
  debootstrap --variant=minbase bookworm "$1" "$(mirror)" >/dev/null
  cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
}

stand_in_builder() {
  local root toolchain
  root=$(mktemp -d /var/tmp/matbench-builder.XXXXXX)
  rootfs "$root"
  chroot "$root" apt-get install -y -q --no-install-recommends gcc libc6-dev ca-certificates pkg-config >/dev/null
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  toolchain=$(rustup default | awk '{print $1}')
  mkdir -p "$root/usr/local/rustup/toolchains" "$root/usr/local/cargo/bin"
  cp -a "$(rustup which rustc | sed 's#/bin/rustc$##')" "$root/usr/local/rustup/toolchains/$toolchain"
  cp -a "$(command -v rustup)" "$root/usr/local/cargo/bin/rustup"
  for b in cargo rustc rustdoc; do ln -sf rustup "$root/usr/local/cargo/bin/$b"; done
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$toolchain" \
    > "$root/usr/local/rustup/settings.toml"
  tar -C "$root" -c . | "${podman[@]}" import \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$builder" >/dev/null
  rm -rf "$root"
}

# One Debian root file system stands in for every runtime image (the first made is tagged again).
stand_in_runtime() {
  local root made
  made=$(for r in $runtimes; do if "${podman[@]}" image exists "$r"; then echo "$r"; fi; done | head -n1)
  if [ -n "$made" ]; then
    "${podman[@]}" tag "$made" "$1"
    return
  fi
  root=$(mktemp -d /var/tmp/matbench-runtime.XXXXXX)
  rootfs "$root"
  tar -C "$root" -c . | "${podman[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$1" >/dev/null
  rm -rf "$root"
}

t0=$SECONDS
for base in "$builder" $runtimes; do
  if "${podman[@]}" image exists "$base"; then continue; fi
  if timeout 60 "${podman[@]}" pull -q "$base" >/dev/null 2>&1; then
    echo "image-check: pulled $base"
  else
    echo "image-check: no registry reachable: making a local stand-in for $base"
    if [ "$base" = "$builder" ]; then stand_in_builder; else stand_in_runtime "$base"; fi
  fi
done
echo "image-check: base images ready in $((SECONDS - t0)) s"

work=$(mktemp -d /var/tmp/matbench-image-check.XXXXXX)
# The checked image and the build stage it was made from (about 2.3 GB together) go when the
# check ends, whatever its result; the base images stay for the next run.
cleanup() {
  rm -rf "$work"
  "${podman[@]}" rmi -f "$image" >/dev/null 2>&1 || true
  "${podman[@]}" image prune -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

t0=$SECONDS
"${podman[@]}" build --pull=never "${limits[@]}" \
  --build-arg MATBENCH_GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$image" . >/tmp/matbench-image-build.log 2>&1 \
  || { tail -n 30 /tmp/matbench-image-build.log; echo "image-check: the build failed" >&2; exit 1; }
size=$("${podman[@]}" image inspect "$image" --format '{{.Size}}')
echo "image-check: built $image in $((SECONDS - t0)) s, $((size / 1024 / 1024)) MiB"

run() { "${podman[@]}" run --rm "${limits[@]}" "$@"; }
fail() { echo "image-check: FAILED: $*" >&2; exit 1; }

# Output is captured before it is searched: `grep -q` closing a pipe early makes podman fail.
help=$(run "$image" --help) || fail "--help exited $?"
grep -q "Usage: matbench" <<<"$help" || fail "--help printed no usage"
run "$image" info >/dev/null || fail "info"
out=$(run "$image" cpu 2000 --no-save) || fail "cpu 2000 exited $?"
grep -q "^Shape: (2000, 2000) Device: /cpu:0$" <<<"$out" || fail "cpu 2000 printed no Shape line"
grep -q "^Time taken: " <<<"$out" || fail "cpu 2000 printed no Time taken line"
grep -q "verify    PASS" <<<"$out" || fail "cpu 2000 did not pass verification"
blas=$(run "$image" cpu 500 --no-save --cpu-engine blas) || fail "cpu 500 --cpu-engine blas exited $?"
grep -q "cblas_sgemm" <<<"$blas" || fail "--cpu-engine blas did not run the image's OpenBLAS"
# The default engine (auto) finds that OpenBLAS and times it against faer; either may win.
auto=$(run "$image" cpu 500 --no-save) || fail "cpu 500 (auto) exited $?"
grep -q "^engine: auto: .*OpenBLAS" <<<"$auto" || fail "the default engine did not find the image's OpenBLAS"
set +e
err=$(run "$image" gpu 10000 2>&1 >/dev/null); code=$?
set -e
[ "$code" = 3 ] || fail "gpu 10000 without a GPU exited $code, not 3"
[ "$(wc -l <<<"$err")" = 1 ] || fail "gpu 10000 printed more than one line: $err"
grep -q "docker run --gpus all" <<<"$err" || fail "gpu 10000 did not say how to start the container: $err"
[ "$(run --entrypoint id "$image" -u)" = 10001 ] || fail "the process does not run as uid 10001"

# A mounted directory written as the caller (--user): exactly one valid record.
mkdir "$work/mine"
chown 4242:4242 "$work/mine"
run --user 4242:4242 -e MATBENCH_HOSTNAME=checker -v "$work/mine:/results:Z" "$image" cpu 300 --reps 3 >/dev/null \
  || fail "cpu 300 into a mounted directory with --user"
[ "$(find "$work/mine" -name '*.json' | wc -l)" = 1 ] || fail "not exactly one record in the mounted directory"
run -v "$work/mine:/results:ro,Z" "$image" report /results >/dev/null || fail "the record does not read back"
grep -q '"hostname": "checker"' "$work/mine"/*.json || fail "MATBENCH_HOSTNAME was not recorded"

# A root-owned mount without --user: an error that names the fix.
mkdir "$work/roots"
chmod 755 "$work/roots"
set +e
err=$(run -v "$work/roots:/results:Z" "$image" cpu 300 --reps 1 2>&1 >/dev/null); code=$?
set -e
[ "$code" = 6 ] || fail "a root-owned mount gave exit $code, not 6"
grep -q -- "--user" <<<"$err" || fail "the error does not name --user: $err"

echo "image-check: passed (--help, info, cpu 2000 PASS, auto on OpenBLAS, gpu 10000 exit 3, uid 10001, --user record, root-owned mount)"
