//! Facts about the machine the run happens on, for the record and for `matbench info`.

use serde::{Deserialize, Serialize};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// The host, as recorded with every run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostRecord {
    /// Host name.
    pub hostname: String,
    /// Operating system, long form (e.g. "Linux (Ubuntu 24.04)").
    pub os: String,
    /// Kernel version.
    pub kernel: String,
    /// CPU architecture (x86_64, aarch64).
    pub arch: String,
    /// CPU model string.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpu_threads: usize,
    /// Physical cores, where the OS tells.
    pub cpu_cores: Option<usize>,
    /// SIMD instruction sets detected at run time.
    pub simd: Vec<String>,
    /// Installed memory.
    pub memory_total_byte: u64,
    /// Memory available to a new allocation when the run started.
    pub memory_available_byte: u64,
    /// Whether this process seems to run inside a container.
    pub in_container: bool,
    /// The batch job this run belongs to, read from the scheduler's environment (Slurm, or a
    /// Kubernetes Indexed Job); `null` outside one, and in older records.
    #[serde(default)]
    pub job: Option<JobContext>,
}

/// Where a run sits in a scheduler's job: what a fleet report shows beside each node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobContext {
    /// `slurm` or `kubernetes`.
    pub scheduler: String,
    /// Slurm: `SLURM_JOB_ID`.
    pub job_id: Option<String>,
    /// Slurm array jobs: `SLURM_ARRAY_JOB_ID`.
    pub array_job_id: Option<String>,
    /// Slurm array jobs: `SLURM_ARRAY_TASK_ID`; Kubernetes: `JOB_COMPLETION_INDEX`.
    pub array_task_id: Option<String>,
    /// Slurm: the task's rank in its step, `SLURM_PROCID`.
    pub task_id: Option<String>,
    /// Slurm: the node the task ran on, `SLURMD_NODENAME`.
    pub node: Option<String>,
    /// Slurm: `SLURM_CLUSTER_NAME`.
    pub cluster: Option<String>,
}

impl JobContext {
    /// The job this process runs in, from `env` (a lookup such as `std::env::var`).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<JobContext> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(job_id) = get("SLURM_JOB_ID") {
            return Some(JobContext {
                scheduler: "slurm".into(),
                job_id: Some(job_id),
                array_job_id: get("SLURM_ARRAY_JOB_ID"),
                array_task_id: get("SLURM_ARRAY_TASK_ID"),
                task_id: get("SLURM_PROCID"),
                node: get("SLURMD_NODENAME"),
                cluster: get("SLURM_CLUSTER_NAME"),
            });
        }
        get("JOB_COMPLETION_INDEX").map(|index| JobContext {
            scheduler: "kubernetes".into(),
            array_task_id: Some(index),
            ..JobContext::default()
        })
    }

    /// One line: `slurm job 12 (array 11, task 2), rank 0 on node2`.
    pub fn summary(&self) -> String {
        let mut s = self.scheduler.clone();
        if let Some(j) = &self.job_id {
            s += &format!(" job {j}");
        }
        match (&self.array_job_id, &self.array_task_id) {
            (Some(a), Some(t)) => s += &format!(" (array {a}, task {t})"),
            (None, Some(t)) => s += &format!(" index {t}"),
            _ => {}
        }
        if let Some(r) = &self.task_id {
            s += &format!(", rank {r}");
        }
        if let Some(n) = &self.node {
            s += &format!(" on {n}");
        }
        s
    }
}

/// Reads the host facts; fields the OS does not tell are left empty, never an error.
pub fn host_record() -> HostRecord {
    let refresh = RefreshKind::nothing()
        .with_memory(MemoryRefreshKind::nothing().with_ram())
        .with_cpu(CpuRefreshKind::nothing());
    let sys = System::new_with_specifics(refresh).ok();
    let cpu_model = sys
        .as_ref()
        .and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_string()))
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown CPU".to_string());
    HostRecord {
        hostname: hostname(),
        os: System::long_os_version().unwrap_or_else(|_| std::env::consts::OS.to_string()),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: std::env::consts::ARCH.to_string(),
        cpu_model,
        cpu_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_cores: System::physical_core_count().ok(),
        simd: simd_features(),
        memory_total_byte: sys.as_ref().map_or(0, |s| s.total_memory()),
        memory_available_byte: sys.as_ref().map_or(0, |s| s.available_memory()),
        in_container: in_container(),
        job: JobContext::from_env(|k| std::env::var(k).ok()),
    }
}

/// The host's name for records: `MATBENCH_HOSTNAME` when set (in a Kubernetes pod, the node's
/// name from the downward API, so records name the machine rather than the pod), else Slurm's
/// name for the node (`SLURMD_NODENAME`, inside a Slurm job), else the OS's.
pub fn hostname() -> String {
    let set = |k: &str| std::env::var(k).ok().filter(|h| !h.trim().is_empty());
    set("MATBENCH_HOSTNAME")
        .or_else(|| set("SLURMD_NODENAME"))
        .or_else(|| System::host_name().ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// The operating system's host name (never `MATBENCH_HOSTNAME`): in a container, the
/// container's own, so it tells processes of one process namespace from another's.
pub fn os_hostname() -> String {
    System::host_name().unwrap_or_else(|_| "unknown-host".to_string())
}

/// Memory a new allocation can get now, if the OS tells.
pub fn available_memory_byte() -> Option<u64> {
    let refresh = RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram());
    System::new_with_specifics(refresh)
        .ok()
        .map(|s| s.available_memory())
        .filter(|&m| m > 0)
}

/// What limits this process's memory besides the host's: the address-space limit (`ulimit -v`,
/// common in HPC batch jobs) and the cgroup's memory limit (v1 or v2: a Slurm job's, a
/// Kubernetes pod's). `None` where there is no such limit or it cannot be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Address space this process may still map: `RLIMIT_AS` minus what it has mapped.
    pub address_space_left_byte: Option<u64>,
    /// The cgroup's memory limit minus its usage.
    pub cgroup_left_byte: Option<u64>,
}

/// Reads both limits of [`MemoryLimits`] (Linux; `None` elsewhere).
pub fn memory_limits() -> MemoryLimits {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let address_space_left_byte = read("/proc/self/limits")
        .and_then(|t| address_space_limit(&t))
        .map(|limit| {
            let used = read("/proc/self/status")
                .and_then(|t| status_kib(&t, "VmSize:"))
                .unwrap_or(0);
            limit.saturating_sub(used)
        });
    let cgroup = read("/proc/self/cgroup").unwrap_or_default();
    let cgroup_left_byte = cgroup_files(&cgroup)
        .into_iter()
        .find_map(|(limit, usage)| {
            let limit = cgroup_bytes(&read(&limit)?)?;
            let usage = read(&usage).and_then(|t| cgroup_bytes(&t)).unwrap_or(0);
            Some(limit.saturating_sub(usage))
        });
    MemoryLimits {
        address_space_left_byte,
        cgroup_left_byte,
    }
}

/// The soft "Max address space" of `/proc/self/limits`, `None` when unlimited.
fn address_space_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Candidate (limit, usage) files for this process's memory cgroup, most specific first:
/// v2 (`0::/path`: `memory.max`, `memory.current`), then v1 (`N:memory:/path`:
/// `memory.limit_in_bytes`, `memory.usage_in_bytes`); each at the cgroup's own path and, for
/// a process whose cgroup is its namespace's root, at the mount's top.
fn cgroup_files(proc_cgroup: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c.trim_end_matches('/')),
            _ => continue,
        };
        let (root, limit, usage) = if controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max", "memory.current")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                "/sys/fs/cgroup/memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        } else {
            continue;
        };
        for dir in [format!("{root}{path}"), root.to_string()] {
            out.push((format!("{dir}/{limit}"), format!("{dir}/{usage}")));
        }
    }
    out
}

/// A cgroup memory value in bytes; `None` for "max" or a v1 "no limit" (≥ 2⁶² bytes).
fn cgroup_bytes(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|&b| b < 1 << 62)
}

/// Logical CPUs this process may use.
pub fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// SIMD extensions the CPU reports (what faer and matrixmultiply dispatch on).
pub fn simd_features() -> Vec<String> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(
                if std::arch::is_x86_feature_detected!($f) { found.push($f.to_string()); }
            )*};
        }
        probe!(
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16",
            "avx512fp16"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(
                if std::arch::is_aarch64_feature_detected!($f) { found.push($f.to_string()); }
            )*};
        }
        probe!("neon", "sve", "sve2");
    }
    found
}

/// True inside Docker, Podman or a Kubernetes pod, as far as the usual markers show.
pub fn in_container() -> bool {
    std::path::Path::new("/.dockerenv").exists()
        || std::path::Path::new("/run/.containerenv").exists()
        || std::fs::read_to_string("/proc/1/cgroup")
            .map(|c| {
                ["docker", "containerd", "kubepods", "libpod"]
                    .iter()
                    .any(|m| c.contains(m))
            })
            .unwrap_or(false)
}

/// The NVIDIA kernel driver's version (e.g. "580.159"), read from `/proc` where it is loaded.
pub fn nvidia_driver_version() -> Option<String> {
    let text = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    parse_nvidia_driver_version(&text)
}

fn parse_nvidia_driver_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version"))?;
    line.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_parsed_from_the_kernels_files() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         943718400            unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), Some(943_718_400));
        assert_eq!(
            address_space_limit(
                "Max address space         unlimited            unlimited            bytes"
            ),
            None
        );
        assert_eq!(
            status_kib("VmSize:\t    3892 kB\n", "VmSize:"),
            Some(3892 * 1024)
        );
        assert_eq!(cgroup_bytes("max\n"), None);
        assert_eq!(cgroup_bytes("9223372036854771712"), None);
        assert_eq!(cgroup_bytes("8589934592\n"), Some(8 << 30));
        let v2 = cgroup_files("0::/slurm/job_7\n");
        assert_eq!(v2[0].0, "/sys/fs/cgroup/slurm/job_7/memory.max");
        assert_eq!(v2[1].1, "/sys/fs/cgroup/memory.current");
        let v1 = cgroup_files("4:memory:/kubepods/pod1\n3:cpuset:/\n");
        assert_eq!(
            v1[0],
            (
                "/sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes".into(),
                "/sys/fs/cgroup/memory/kubepods/pod1/memory.usage_in_bytes".into()
            )
        );
        assert_eq!(v1.len(), 2);
    }

    #[test]
    fn parses_driver_version_line() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159  Thu Oct 9 2025\nGCC version: gcc 13\n";
        assert_eq!(
            parse_nvidia_driver_version(text).as_deref(),
            Some("580.159")
        );
        assert_eq!(parse_nvidia_driver_version("nothing here"), None);
    }

    #[test]
    fn slurm_and_kubernetes_jobs_are_read_from_their_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(JobContext::from_env(env(&[])), None);
        let slurm = JobContext::from_env(env(&[
            ("SLURM_JOB_ID", "12"),
            ("SLURM_ARRAY_JOB_ID", "11"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_PROCID", "0"),
            ("SLURMD_NODENAME", "node2"),
            ("SLURM_CLUSTER_NAME", "matbench"),
        ]))
        .unwrap();
        assert_eq!(
            slurm.summary(),
            "slurm job 12 (array 11, task 2), rank 0 on node2"
        );
        assert_eq!(slurm.cluster.as_deref(), Some("matbench"));
        let k8s = JobContext::from_env(env(&[("JOB_COMPLETION_INDEX", "3")])).unwrap();
        assert_eq!(k8s.summary(), "kubernetes index 3");
        let empty = JobContext::from_env(env(&[("SLURM_JOB_ID", " ")]));
        assert_eq!(empty, None, "an empty variable is no job");
    }

    #[test]
    fn host_record_has_basic_facts() {
        let h = host_record();
        assert!(h.cpu_threads >= 1);
        assert!(!h.hostname.is_empty());
        assert!(h.memory_total_byte > 0);
    }
}
