//! The Dockerfile's promises, checked as text (the image itself is built and run by
//! scripts/image-check.sh in CI): above all, that each CUDA major's runtime image matches the
//! cudarc feature that matbench's feature of the same major selects, since that feature
//! decides the `.so.N` names matbench loads.

const DOCKERFILE: &str = include_str!("../Dockerfile");
const CARGO_TOML: &str = include_str!("../Cargo.toml");

/// The `FROM` line of the stage named `runtime-<major>`.
fn runtime_stage(major: u32) -> &'static str {
    let alias = format!(" AS runtime-{major}");
    DOCKERFILE
        .lines()
        .find(|l| l.starts_with("FROM ") && l.ends_with(&alias))
        .unwrap_or_else(|| panic!("the Dockerfile has a runtime-{major} stage"))
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
fn each_runtime_image_matches_the_cudarc_feature_of_its_major() {
    for major in [12, 13] {
        let image = cuda_major_of_image(runtime_stage(major));
        let cudarc = cuda_major_of_feature(CARGO_TOML, &format!("cuda-{major}"));
        assert_eq!(
            (image, cudarc),
            (major, major),
            "runtime-{major} is CUDA {image}, feature cuda-{major} builds for CUDA {cudarc}"
        );
    }
}

#[test]
fn the_default_major_is_the_same_in_the_image_and_the_crate() {
    let arg = DOCKERFILE
        .lines()
        .find_map(|l| l.strip_prefix("ARG CUDA_MAJOR="))
        .expect("ARG CUDA_MAJOR with a default");
    assert!(
        CARGO_TOML.contains(&format!("default = [\"cuda-{arg}\"]")),
        "the image defaults to CUDA {arg}, the crate does not"
    );
    let last = DOCKERFILE
        .lines()
        .rfind(|l| l.starts_with("FROM "))
        .unwrap();
    assert_eq!(last, "FROM runtime-${CUDA_MAJOR}");
    assert!(DOCKERFILE.contains("--no-default-features --features \"cuda-${CUDA_MAJOR}\""));
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
fn runtime_stages_are_cuda_runtime_ubuntu_2404_images() {
    for major in [12, 13] {
        let from = runtime_stage(major);
        assert!(from.contains("-runtime-ubuntu24.04"), "{from}");
    }
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
