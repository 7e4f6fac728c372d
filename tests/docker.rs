//! The Dockerfile cannot be built here (no Docker engine), so its promises are checked as text:
//! above all, that the runtime image's CUDA major matches the cudarc feature in Cargo.toml,
//! which decides the `.so.N` names matbench loads.

const DOCKERFILE: &str = include_str!("../Dockerfile");
const CARGO_TOML: &str = include_str!("../Cargo.toml");

fn runtime_base() -> &'static str {
    DOCKERFILE
        .lines()
        .rfind(|l| l.starts_with("FROM "))
        .expect("the Dockerfile has a FROM line")
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

fn cuda_major_of_cudarc_feature(cargo: &str) -> u32 {
    let line = cargo
        .lines()
        .find(|l| l.starts_with("cudarc"))
        .expect("cudarc dependency");
    let feature = line
        .split('"')
        .find(|w| w.starts_with("cuda-") && w[5..].chars().all(|c| c.is_ascii_digit()))
        .expect("a cuda-NNNNN feature");
    feature[5..].parse::<u32>().unwrap() / 1000
}

#[test]
fn runtime_image_cuda_major_matches_the_cudarc_feature() {
    let image = cuda_major_of_image(runtime_base());
    let cudarc = cuda_major_of_cudarc_feature(CARGO_TOML);
    assert_eq!(
        image, cudarc,
        "Dockerfile runtime image is CUDA {image}, cudarc is built for CUDA {cudarc}"
    );
}

#[test]
fn the_checker_itself_tells_majors_apart() {
    assert_eq!(
        cuda_major_of_image("FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04"),
        12
    );
    assert_eq!(
        cuda_major_of_cudarc_feature("cudarc = { features = [\"driver\", \"cuda-13000\"] }"),
        13
    );
    assert_eq!(
        cuda_major_of_cudarc_feature("cudarc = { features = [\"cuda-12080\"] }"),
        12
    );
}

#[test]
fn runtime_stage_is_a_cuda_runtime_ubuntu_2404_image() {
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
