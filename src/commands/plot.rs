//! `matbench plot`: SVG charts from stored results — TFLOP/s against n per device and dtype,
//! and the GPU-over-CPU speed-up per n. Also used by `matbench sweep --plot-dir`.
//!
//! Charts are built as strings by pure functions ([`charts`]) with plotters' SVG backend (text
//! as SVG `<text>`, so no font files are needed); only [`write_charts`] touches the disk.

use crate::cli::PlotArgs;
use crate::error::{Error, Exit};
use crate::model::dtype::DType;
use crate::model::vocab::{BackendKind, MatOp};
use crate::output::Stdout;
use crate::output::escape::plain;
use crate::record::RunRecord;
use crate::record::key::BenchKey;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One line of a chart: a device and dtype, its points (n, value) in increasing n.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (n, value) points.
    pub points: Vec<(f64, f64)>,
}

/// TFLOP/s against n, one series per benchmark key without n (backend, device, dtype, op);
/// of several runs of one point the best is drawn (runs with a cold single repetition would
/// otherwise pull a point down). Failed verifications are left out.
pub fn throughput_series(records: &[RunRecord]) -> Vec<Series> {
    let mut groups: BTreeMap<(String, usize), Vec<f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.verification.passed) {
        let key = BenchKey::of(r);
        groups
            .entry((plain(&key.series()), key.n))
            .or_default()
            .push(r.matmul_tflop_per_s);
    }
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((label, n), v) in groups {
        series
            .entry(label)
            .or_default()
            .push((n as f64, v.iter().copied().fold(0.0, f64::max)));
    }
    series
        .into_iter()
        .map(|(label, points)| Series { label, points })
        .collect()
}

/// Best GPU TFLOP/s over best CPU TFLOP/s per n, one series per dtype and op, where both ran
/// that n.
pub fn speedup_series(records: &[RunRecord]) -> Vec<Series> {
    type Point = (DType, MatOp, usize, BackendKind);
    let mut best: BTreeMap<Point, Vec<f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.verification.passed) {
        let c = &r.config;
        best.entry((c.dtype, c.op, c.n, c.backend))
            .or_default()
            .push(r.matmul_tflop_per_s);
    }
    let mut series: BTreeMap<(DType, MatOp), Vec<(f64, f64)>> = BTreeMap::new();
    for ((dtype, op, n, kind), gpu) in &best {
        if *kind != BackendKind::Cuda {
            continue;
        }
        if let Some(cpu) = best.get(&(*dtype, *op, *n, BackendKind::Cpu)) {
            let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
            let (g, c) = (best(gpu), best(cpu));
            if c > 0.0 {
                series
                    .entry((*dtype, *op))
                    .or_default()
                    .push((*n as f64, g / c));
            }
        }
    }
    series
        .into_iter()
        .map(|((dtype, op), points)| Series {
            label: match op {
                MatOp::Gemm => format!("GPU / CPU ({dtype})"),
                other => format!("GPU / CPU ({dtype} {})", other.name()),
            },
            points,
        })
        .collect()
}

fn draw(title: &str, y_label: &str, series: &[Series]) -> Result<String, Error> {
    let fail = |e: String| Error::Encode {
        what: "a chart as SVG",
        reason: format!("{title}: {e}"),
    };
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x_min, x_max) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let y_max = ys.fold(0f64, f64::max);
    let (x_min, x_max) = if x_min < x_max {
        (x_min, x_max)
    } else {
        (x_min / 2.0, x_min * 2.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (x_min * 0.9..x_max * 1.25).log_scale(), // room for a label past the last n
                0f64..(y_max * 1.1).max(1e-9),
            )
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("n (A is n×n), log scale")
            .y_desc(y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| fail(e.to_string()))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| fail(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(svg)
}

/// The charts for `records`, as (file name, SVG text). The speed-up chart is made only when
/// some n ran on both a GPU and a CPU.
pub fn charts(records: &[RunRecord]) -> Result<Vec<(String, String)>, Error> {
    let throughput = throughput_series(records);
    if throughput.is_empty() {
        return Err(Error::InvalidArgument("no verified runs to plot".into()));
    }
    let mut out = vec![(
        "tflops.svg".to_string(),
        draw(
            "C = A·Aᵀ: matmul throughput (median of the repetitions)",
            "TFLOP/s (FLOP of the op / median)",
            &throughput,
        )?,
    )];
    let speedup = speedup_series(records);
    if !speedup.is_empty() {
        out.push((
            "speedup.svg".to_string(),
            draw(
                "GPU over CPU speed-up, same n and dtype",
                "speed-up (×)",
                &speedup,
            )?,
        ));
    }
    Ok(out)
}

/// Writes `charts(records)` into `dir` (created if needed), replacing older charts of the same
/// name atomically; returns the paths written.
pub fn write_charts(records: &[RunRecord], dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let fail = |e: std::io::Error| Error::save_io("the charts", dir, &e);
    crate::record::store::prepare_dir(dir, "the charts")?;
    let mut written = Vec::new();
    for (name, svg) in charts(records)? {
        let mut tmp = crate::record::store::new_temp(dir, ".svg.tmp").map_err(fail)?;
        std::io::Write::write_all(&mut tmp, svg.as_bytes()).map_err(fail)?;
        let path = dir.join(name);
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        written.push(path);
    }
    Ok(written)
}

/// Runs `matbench plot`.
/// Runs that failed verification are not drawn; they are named on stderr and `plot` exits 8.
pub fn run(args: &PlotArgs, out: &mut Stdout) -> Result<Exit, Error> {
    let records = crate::record::read::read_all(&args.results).map_err(Error::one_line)?;
    let split = crate::record::read::Verified::split(records);
    let failure = split.failure("the charts");
    if split.passed.is_empty()
        && let Some(e) = failure
    {
        return Err(e);
    }
    let records: Vec<RunRecord> = split.passed.into_iter().map(|(_, r)| r).collect();
    let written = write_charts(&records, &args.out).map_err(|e| e.with_hint("pass --out DIR"))?;
    for path in written {
        out.line(&path.display().to_string())?;
    }
    Ok(match failure {
        Some(e) => {
            crate::output::error(&e);
            e.exit()
        }
        None => Exit::Success,
    })
}
