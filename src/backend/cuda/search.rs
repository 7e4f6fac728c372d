//! `--algo search` on the GPU: time the default path and cuBLASLt's candidates for the
//! prepared problem, choose ([`super::algo::choose`]), and cache the winner.

#![deny(unsafe_code)]

use super::algo::{self, Entry};
use super::context::Gpu;
use super::{LtChoice, State, gemm, lt, queue_repetition};
use crate::error::Error;
use crate::model::Second;
use crate::record::algo::{AlgoCandidate, AlgoRecord};
use cudarc::cublaslt::sys::cublasLtMatmulAlgo_t;
use std::path::Path;

/// Wall time the timed rounds aim at, before the bounds on their count.
const SEARCH_BUDGET_S: Second = 2.0;
/// Timed calls per candidate, at least and at most: with 3, the bootstrap interval of the
/// ratio is too crude to trust (the H200 at its power cap moved a 16384 tf32 GEMM by 10%
/// between runs).
const ROUNDS: (u32, u32) = (5, 15);

/// The GPU model, compute capability, SM count and cuBLAS version of the cache key.
pub(super) type KeyHead = (String, String, u32, String);

/// Searches (or finds in the cache in `dir`) the algorithm for `st`'s problem; `default_name`
/// names the default path. Returns the cuBLASLt choice (`None`: the default path) and the
/// record.
pub(super) fn search(
    g: &Gpu,
    st: &mut State,
    dir: &Path,
    (gpu, capability, sms, cublas): KeyHead,
    default_name: &str,
) -> Result<(Option<LtChoice>, AlgoRecord), Error> {
    let p = gemm::a_times_a_transposed(st.n)?;
    let problem_name = format!("{} gemm n={}", st.dtype, st.n);
    let key = algo::key(&gpu, &capability, sms, &cublas, &problem_name);
    let cache_file = algo::path(dir).display().to_string();
    let mut handle = lt::Lt::new(&g.stream)?;
    let problem = lt::Problem::new(st.dtype, &p, &g.stream)?;
    let mut cache_error = None;
    match algo::get(dir, &key) {
        Ok(Some(entry)) => {
            let algo = entry
                .algo
                .as_deref()
                .and_then(|w| <[u64; 8]>::try_from(w).ok())
                .map(|data| cublasLtMatmulAlgo_t { data });
            let mut record = entry.record;
            record.cached = true;
            record.cache_file = cache_file;
            record.cache_error = None;
            let choice = algo.map(|algo| LtChoice::new(handle, problem, algo));
            return Ok((choice, record));
        }
        Ok(None) => {}
        Err(e) => cache_error = Some(e),
    }
    let algos = lt::candidates(&handle, &problem, algo::MAX_CANDIDATES)?;
    let mut names = vec![format!("default path: {default_name}")];
    names.extend(algos.iter().map(lt::describe));
    let count = algos.len() + 1;
    // One repetition with candidate `i` (0: the default path), its GEMM timed with CUDA
    // events: timed the way a run times it, with the reduction and the checksums after it, so
    // the GPU works at the duty cycle (and, at its power cap, the clocks) of a run. Calls back
    // to back without them ranked tf32 candidates differently on the H200: the default path
    // timed 5.8 ms there against 5.2 ms in a run. What is left of that gap is the length of
    // the load, not its duty: the search keeps the GPU busy for 0.6–4 s, a default run's
    // repetitions for about 0.1 s, and the H200 at its power cap runs a sustained load slower
    // (docs/performance.md); copying the sums back and checking them on the host as a run
    // does changed nothing measurable (2026-11-30).
    let mut time = |i: usize, st: &mut State| -> Result<Second, Error> {
        let lt = (i > 0).then(|| (&mut handle, &problem, &algos[i - 1]));
        let lines = st.lines.is_some();
        queue_repetition(g, st, p, None, lt, lines)?;
        g.sync_as("timing a GEMM algorithm")?;
        g.elapsed(0, 1)
    };
    // Warm-up: each candidate once; one that fails is left out, with why.
    let mut failed: Vec<Option<String>> = vec![None; count];
    for (i, f) in failed.iter_mut().enumerate() {
        if let Err(e) = time(i, st) {
            if i == 0 {
                return Err(e);
            }
            *f = Some(e.to_string());
        }
    }
    let default_s = time(0, st)?;
    let per_round = default_s * count as f64;
    let rounds = (SEARCH_BUDGET_S / per_round.max(f64::MIN_POSITIVE))
        .ceil()
        .clamp(f64::from(ROUNDS.0), f64::from(ROUNDS.1)) as u32;
    let mut samples: Vec<Vec<Second>> = vec![Vec::new(); count];
    // Each round starts one candidate later, so no candidate always follows the same one: a
    // call's time can carry what the call before it left (clocks, power).
    for round in 0..rounds as usize {
        for k in 0..count {
            let i = (round + k) % count;
            if failed[i].is_none() {
                samples[i].push(time(i, st)?);
            }
        }
    }
    let chosen = algo::choose(&samples);
    let medians: Vec<Second> = samples.iter().map(|s| algo::median(s)).collect();
    let best_s = medians
        .iter()
        .copied()
        .filter(|m| m.is_finite())
        .fold(f64::INFINITY, f64::min);
    let record = AlgoRecord {
        candidates: names
            .into_iter()
            .zip(samples)
            .zip(&failed)
            .map(|((name, samples_s), why)| AlgoCandidate {
                name: match why {
                    Some(why) => format!("{name} (failed: {why})"),
                    None => name,
                },
                median_s: algo::median(&samples_s),
                samples_s,
            })
            .collect(),
        chosen,
        default_median_s: medians[0],
        best_median_s: best_s,
        regret: algo::regret(medians[0], best_s),
        rule: algo::rule(),
        cached: false,
        cache_file,
        searched_utc: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        cache_error,
    };
    let winner = (chosen > 0).then(|| algos[chosen - 1]);
    let entry = Entry {
        record: AlgoRecord {
            cache_error: None,
            ..record.clone()
        },
        algo: winner.map(|a| a.data.to_vec()),
    };
    let mut record = record;
    if let Err(e) = algo::put(dir, &key, entry) {
        record.cache_error = Some(e);
    }
    let choice = winner.map(|algo| LtChoice::new(handle, problem, algo));
    Ok((choice, record))
}
