#!/usr/bin/env python3
"""Compiles kernels/matbench.cu into the CUBINs matbench ships (kernels/prebuilt/), so a fresh
machine loads its kernels without waiting for NVRTC (1.3 s on the H200's host).

    python3 scripts/kernels-prebuild.py            # regenerate every set, then the manifest
    python3 scripts/kernels-prebuild.py --check    # fail if a committed file differs from a
                                                   # fresh build (CI runs this)

Needs no GPU: NVRTC compiles to machine code (sm_XY) on any x86-64 Linux. Each CUDA major's
set is built with that major's NVRTC from PyPI (the exact wheel is pinned in SETS and
installed into a temporary directory), with the options the binary's own NVRTC fallback uses
(src/backend/cuda/kernels.rs): `--gpu-architecture=sm_XY --std=c++17`. NVRTC's output is
deterministic, so `--check` compares bytes. A binary built with the `cuda-13` feature embeds
the cuda13 set, one built with `cuda-12` the cuda12 set; an architecture without a shipped
CUBIN is compiled at run time with the machine's NVRTC, as before.

Every change to kernels/matbench.cu must be followed by this script (a unit test compares the
source's SHA-256 with the manifest's).
"""
import argparse
import ctypes
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "kernels" / "matbench.cu"
OUT = ROOT / "kernels" / "prebuilt"
OPTIONS = ["--std=c++17"]

# major set → (pip requirement, library path inside the wheel, architectures)
SETS = {
    "cuda13": (
        "nvidia-cuda-nvrtc==13.0.88",
        "nvidia/cu13/lib/libnvrtc.so.13",
        ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"],
    ),
    "cuda12": (
        "nvidia-cuda-nvrtc-cu12==12.8.93",
        "nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
        ["sm_70", "sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"],
    ),
}


def nvrtc_library(requirement, relative, cache):
    """The NVRTC library of `requirement`, installed with pip into `cache`."""
    target = pathlib.Path(cache) / requirement.split("==")[0]
    lib = target / relative
    if not lib.exists():
        # pip's own output goes to stderr: this set's stdout is its JSON.
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--target", str(target), requirement],
            check=True, stdout=sys.stderr,
        )
    # NVRTC opens its builtins library (beside it) by name: loaded first, the name finds it.
    for builtins in sorted(lib.parent.glob("libnvrtc-builtins.so.*")):
        ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)


def version(lib):
    major, minor = ctypes.c_int(), ctypes.c_int()
    if lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)) != 0:
        raise SystemExit("nvrtcVersion failed")
    return f"{major.value}.{minor.value}"


def compile_cubin(lib, source, arch):
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), source, b"matbench.cu", 0, None, None) != 0:
        raise SystemExit(f"{arch}: nvrtcCreateProgram failed")
    opts = [f"--gpu-architecture={arch}".encode()] + [o.encode() for o in OPTIONS]
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    size = ctypes.c_size_t()
    if rc != 0:
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        raise SystemExit(f"{arch}: NVRTC failed:\n{log.value.decode(errors='replace')}")
    lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetCUBIN(prog, cubin)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return cubin.raw


def build(name, cache):
    """One set, built in a child process: two NVRTC majors cannot share one process."""
    out = subprocess.run(
        [sys.executable, __file__, "--one-set", name, "--cache", cache],
        check=True, stdout=subprocess.PIPE,  # stderr (pip, NVRTC's log) passes through
    )
    return json.loads(out.stdout)


def one_set(name, cache):
    requirement, relative, archs = SETS[name]
    lib = nvrtc_library(requirement, relative, cache)
    source = SOURCE.read_bytes()
    built = {arch: compile_cubin(lib, source, arch).hex() for arch in archs}
    json.dump({"nvrtc": version(lib), "requirement": requirement, "cubins": built}, sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files")
    ap.add_argument("--sets", default=",".join(SETS), help="which sets (default: all)")
    ap.add_argument("--cache", help="where the NVRTC wheels go (default: a temporary directory)")
    ap.add_argument("--one-set", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_set:
        return one_set(args.one_set, args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        manifest = {
            "source": "kernels/matbench.cu",
            "source_sha256": hashlib.sha256(SOURCE.read_bytes()).hexdigest(),
            "options": OPTIONS,
            "sets": {},
        }
        stale = []
        for name in args.sets.split(","):
            result = build(name, cache)
            manifest["sets"][name] = {
                "nvrtc": result["nvrtc"],
                "requirement": result["requirement"],
                "architectures": sorted(result["cubins"], key=lambda a: int(a[3:])),
            }
            for arch, hexed in result["cubins"].items():
                path = OUT / name / f"{arch}.cubin"
                data = bytes.fromhex(hexed)
                if args.check:
                    if not path.exists() or path.read_bytes() != data:
                        stale.append(str(path.relative_to(ROOT)))
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
        manifest_path = OUT / "manifest.json"
        if args.check:
            committed = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
            for name in args.sets.split(","):
                if committed.get("sets", {}).get(name) != manifest["sets"][name]:
                    stale.append(f"kernels/prebuilt/manifest.json ({name})")
            if committed.get("source_sha256") != manifest["source_sha256"]:
                stale.append("kernels/prebuilt/manifest.json (source_sha256)")
            if stale:
                raise SystemExit(
                    "the shipped kernels are stale (run python3 scripts/kernels-prebuild.py): "
                    + ", ".join(stale)
                )
            print(f"kernels-prebuild: the shipped CUBINs match kernels/matbench.cu ({args.sets})")
        else:
            if manifest_path.exists():
                # Sets not rebuilt this time keep their entries.
                old = json.loads(manifest_path.read_text())
                for name, entry in old.get("sets", {}).items():
                    manifest["sets"].setdefault(name, entry)
            manifest["sets"] = dict(sorted(manifest["sets"].items()))
            manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
            print(f"kernels-prebuild: wrote kernels/prebuilt/ ({args.sets})")


if __name__ == "__main__":
    main()
