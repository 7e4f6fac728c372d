//! The Dockerfile's promises, checked as text (the image itself is built and run by
//! scripts/image-check.sh in CI): above all, that the runtime image's CUDA major matches the
//! cudarc feature the build selects, since that feature decides the `.so.N` names matbench
//! loads.

const DOCKERFILE: &str = include_str!("../Dockerfile");
const CARGO_TOML: &str = include_str!("../Cargo.toml");

/// The default of `ARG CUDA_VERSION`, the image's one CUDA knob.
fn cuda_version() -> &'static str {
    DOCKERFILE
        .lines()
        .find_map(|l| l.strip_prefix("ARG CUDA_VERSION="))
        .expect("ARG CUDA_VERSION with a default")
}

/// The runtime stage's `FROM` line with the default CUDA version filled in.
fn runtime_base() -> String {
    DOCKERFILE
        .lines()
        .rfind(|l| l.starts_with("FROM "))
        .expect("a runtime stage")
        .replace("${CUDA_VERSION}", cuda_version())
}

fn cuda_major_of_image(from: &str) -> u32 {
    let tag = from
        .split("nvidia/cuda:")
        .nth(1)
        .expect("runtime stage is an nvidia/cuda image");
    tag.split('.')
        .next()
        .unwrap()
        .parse()
        .expect("tag starts with the CUDA major")
}

/// The CUDA major of the cudarc feature that matbench's feature `feature` turns on.
fn cuda_major_of_feature(cargo: &str, feature: &str) -> u32 {
    let line = cargo
        .lines()
        .find(|l| l.starts_with(&format!("{feature} = ")))
        .unwrap_or_else(|| panic!("Cargo.toml has a feature {feature}"));
    let cudarc = line
        .split('"')
        .find(|w| w.starts_with("cudarc/cuda-"))
        .expect("the feature selects a cudarc cuda-NNNNN feature");
    cudarc["cudarc/cuda-".len()..].parse::<u32>().unwrap() / 1000
}

#[test]
fn the_default_runtime_image_matches_the_default_feature() {
    let image = cuda_major_of_image(&runtime_base());
    let cudarc = cuda_major_of_feature(CARGO_TOML, &format!("cuda-{image}"));
    assert_eq!(
        image, cudarc,
        "the image is CUDA {image}, cuda-{image} builds for CUDA {cudarc}"
    );
    assert!(
        CARGO_TOML.contains(&format!("default = [\"cuda-{image}\"]")),
        "the image defaults to CUDA {image}, the crate does not"
    );
}

#[test]
fn one_knob_names_the_image_and_the_feature() {
    assert!(runtime_base().contains("nvidia/cuda:"));
    assert!(
        DOCKERFILE.contains("--features \"cuda-${CUDA_VERSION%%.*}\""),
        "the build's feature is derived from CUDA_VERSION's major"
    );
    // Both majors the build can be asked for have a feature of their own.
    for major in [12, 13] {
        assert_eq!(
            cuda_major_of_feature(CARGO_TOML, &format!("cuda-{major}")),
            major
        );
    }
}

#[test]
fn the_checker_itself_tells_majors_apart() {
    assert_eq!(
        cuda_major_of_image("FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04 AS runtime-12"),
        12
    );
    assert_eq!(
        cuda_major_of_feature("cuda-13 = [\"cudarc/cuda-13000\"]", "cuda-13"),
        13
    );
    assert_eq!(
        cuda_major_of_feature("cuda-12 = [\"cudarc/cuda-12080\"]", "cuda-12"),
        12
    );
}

#[test]
fn the_runtime_stage_is_a_cuda_runtime_ubuntu_2404_image() {
    let from = runtime_base();
    assert!(from.contains("-runtime-ubuntu24.04"), "{from}");
}

#[test]
fn image_runs_matbench_as_non_root_and_keeps_results_in_a_volume() {
    assert!(DOCKERFILE.contains("ENTRYPOINT [\"matbench\"]"));
    assert!(DOCKERFILE.contains("ENV MATBENCH_RESULTS_DIR=/results"));
    assert!(DOCKERFILE.contains("VOLUME [\"/results\"]"));
    let user = DOCKERFILE
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(
        !user.contains("root") && !user.trim_end().ends_with(" 0"),
        "{user}"
    );
    assert!(DOCKERFILE.contains("cargo build --release --locked"));
    assert!(DOCKERFILE.contains("org.opencontainers.image.title"));
    let ignore =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}
