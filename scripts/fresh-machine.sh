#!/usr/bin/env bash
# Runs `.ci/run` from a clean clone of HEAD inside a container that has only what a fresh
# development/CI machine of this project's kind has: the Rust toolchain (with rustfmt and
# clippy), Python 3 with pip, git, gcc. Nothing a session installed by hand, no cargo cache.
# A green `.ci/run` on a developer's machine can hide a missing install step; this cannot.
#
#   scripts/fresh-machine.sh            # build the stand-in image once, then run CI in it
#   FRESH_REBUILD=1 scripts/fresh-machine.sh
#
# Needs podman, runc and debootstrap (`apt-get install podman runc debootstrap`). The image is
# made from the distribution's packages (debootstrap, mirror from this machine's apt sources)
# plus this machine's own Rust toolchain, and kept as `localhost/matbench-fresh:latest`.
# Steps of `.ci/run` that cannot run inside a container say so with a visible SKIPPED line.
set -euo pipefail
cd "$(dirname "$0")/.."
image=localhost/matbench-fresh:latest
podman=(podman --runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || { echo "fresh-machine: $tool is missing (apt-get install podman runc debootstrap)" >&2; exit 1; }
done

# The distribution mirror this machine already uses (never a host name written here).
mirror() {
  grep -h -m1 -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//'
}

build_image() {
  local root toolchain
  root=$(mktemp -d /var/tmp/matbench-fresh.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "fresh-machine: debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" "$(mirror)" >/dev/null
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
  chroot "$root" apt-get install -y -q --no-install-recommends \
    gcc libc6-dev git ca-certificates python3 python3-pip python3-venv >/dev/null
  # The workplace's TLS re-signing CA, so cargo and pip reach their registries from inside.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  # Debian marks its Python as externally managed; a fresh machine's Python (pyenv) is not.
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  toolchain=$(rustup default | awk '{print $1}')
  mkdir -p "$root/usr/local/rustup/toolchains" "$root/usr/local/cargo/bin"
  cp -a "$(rustup which rustc | sed 's#/bin/rustc$##')" "$root/usr/local/rustup/toolchains/$toolchain"
  cp -a "$HOME/.cargo/bin/rustup" "$root/usr/local/cargo/bin/rustup"
  for b in cargo rustc rustdoc cargo-fmt rustfmt cargo-clippy clippy-driver; do
    ln -sf rustup "$root/usr/local/cargo/bin/$b"
  done
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "default"\n' "$toolchain" \
    > "$root/usr/local/rustup/settings.toml"
  echo "fresh-machine: importing $image"
  tar -C "$root" -c . | "${podman[@]}" import \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$image" >/dev/null
}

if [ -n "${FRESH_REBUILD:-}" ] || ! "${podman[@]}" image exists "$image"; then
  build_image
fi

clone=$(mktemp -d /var/tmp/matbench-clone.XXXXXX)
trap 'rm -rf "$clone"' EXIT
git clone -q "$(pwd)" "$clone/matbench"
echo "fresh-machine: .ci/run on a clean clone of $(git rev-parse --short HEAD) in $image"
"${podman[@]}" run --rm "${limits[@]}" -e CI=true -v "$clone/matbench:/src:Z" -w /src "$image" \
  bash .ci/run
