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

/// The x axis of a chart drawn by [`draw`] (always a log scale).
struct XAxis {
    desc: &'static str,
    format: fn(&f64) -> String,
}

/// n on the x axis.
const N_AXIS: XAxis = XAxis {
    desc: "n (A is n×n), log scale",
    format: |x| format!("{x:.0}"),
};

/// The largest element error on the x axis.
const ERROR_AXIS: XAxis = XAxis {
    desc: "largest relative error of the checked elements of C, log scale",
    format: |x| format!("{x:.0e}"),
};

/// Speed against accuracy, one series per device and dtype, one point per n: (largest element
/// error, TFLOP/s) of the best run of each n. Errors below 10⁻¹⁷ (an exact match) are drawn at
/// 10⁻¹⁷, so a log axis can hold them.
pub fn frontier_series(records: &[RunRecord]) -> Vec<Series> {
    let mut best: BTreeMap<(String, usize), (f64, f64)> = BTreeMap::new();
    for r in records.iter().filter(|r| r.verification.passed) {
        let key = BenchKey::of(r);
        let point = (
            r.verification.max_element_rel_error.max(1e-17),
            r.matmul_tflop_per_s,
        );
        let slot = best.entry((plain(&key.series()), key.n)).or_insert(point);
        if point.1 > slot.1 {
            *slot = point;
        }
    }
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((label, _n), p) in best {
        series.entry(label).or_default().push(p);
    }
    series
        .into_iter()
        .map(|(label, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { label, points }
        })
        .collect()
}

/// Every series as a line with its legend entry (and a dot at each point with `markers`), one
/// colour each: the one way a chart draws its series.
fn draw_lines<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    series: &[Series],
    markers: bool,
) -> Result<(), String> {
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        if markers {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn draw(title: &str, y_label: &str, series: &[Series]) -> Result<String, Error> {
    draw_on(title, &N_AXIS, y_label, series)
}

fn draw_on(title: &str, x: &XAxis, y_label: &str, series: &[Series]) -> Result<String, Error> {
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
            .x_desc(x.desc)
            .y_desc(y_label)
            .x_label_formatter(&x.format)
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        draw_lines(&mut chart, series, true).map_err(fail)?;
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

/// One `--duration` run's line in the soak chart: its label and, per second, (t, value) of
/// TFLOP/s, SM clock and power.
pub fn soak_series(records: &[RunRecord]) -> [Vec<Series>; 3] {
    let mut out: [Vec<Series>; 3] = Default::default();
    for r in records.iter().filter(|r| r.verification.passed) {
        let Some(soak) = &r.soak else { continue };
        let label = plain(&format!(
            "{}{} {} n={}",
            r.host.hostname,
            r.config
                .gpu_index
                .map(|i| format!(" GPU {i}"))
                .unwrap_or_default(),
            r.config.dtype,
            r.config.n
        ));
        let pick = |f: fn(&crate::record::soak::SoakSecond) -> Option<f64>| Series {
            label: label.clone(),
            points: soak
                .seconds
                .iter()
                .filter_map(|s| f(s).map(|v| (s.t_s + 0.5, v)))
                .collect(),
        };
        for (panel, series) in out.iter_mut().zip([
            pick(|s| s.tflop_per_s),
            pick(|s| s.sm_clock_mhz),
            pick(|s| s.power_w),
        ]) {
            if !series.points.is_empty() {
                panel.push(series);
            }
        }
    }
    out
}

/// The soak chart: TFLOP/s, SM clock and power against time, one panel each, one line per run.
fn draw_soak(panels: &[Vec<Series>; 3]) -> Result<String, Error> {
    let title = "Burst against sustained: the run second by second";
    let fail = |e: String| Error::Encode {
        what: "a chart as SVG",
        reason: format!("{title}: {e}"),
    };
    let t_max = panels
        .iter()
        .flatten()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 900)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let root = root
            .titled(title, ("sans-serif", 22))
            .map_err(|e| fail(e.to_string()))?;
        let areas = root.split_evenly((3, 1));
        let names = ["TFLOP/s", "SM clock (MHz)", "board power (W)"];
        for ((area, series), name) in areas.iter().zip(panels).zip(names) {
            let y_max = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0f64, f64::max);
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(0f64..t_max * 1.02, 0f64..(y_max * 1.1).max(1e-9))
                .map_err(|e| fail(e.to_string()))?;
            chart
                .configure_mesh()
                .x_desc("seconds after measuring started")
                .y_desc(name)
                .light_line_style(WHITE)
                .draw()
                .map_err(|e| fail(e.to_string()))?;
            if series.is_empty() {
                continue; // no telemetry (a CPU run): the panel stays empty
            }
            draw_lines(&mut chart, series, false).map_err(fail)?;
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| fail(e.to_string()))?;
        }
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(svg)
}

/// The charts for `records`, as (file name, SVG text). The speed-up chart is made only when
/// some n ran on both a GPU and a CPU, the accuracy frontier only when more than one dtype
/// ran, the soak chart only when some run had `--duration`.
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
    let frontier = frontier_series(records);
    let dtypes: std::collections::BTreeSet<DType> = records
        .iter()
        .filter(|r| r.verification.passed)
        .map(|r| r.config.dtype)
        .collect();
    if dtypes.len() > 1 {
        out.push((
            "accuracy.svg".to_string(),
            draw_on(
                "Speed against accuracy: one point per dtype and n",
                &ERROR_AXIS,
                "TFLOP/s (FLOP of the op / median)",
                &frontier,
            )?,
        ));
    }
    let soak = soak_series(records);
    if !soak[0].is_empty() {
        out.push(("soak.svg".to_string(), draw_soak(&soak)?));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_gets_its_chart_with_one_line_per_run_and_panel() {
        let mut r = crate::record::fixtures::records("h200-2026-11-28")
            .remove(0)
            .1;
        assert!(
            !charts(std::slice::from_ref(&r))
                .unwrap()
                .iter()
                .any(|(name, _)| name == "soak.svg")
        );
        let times = vec![0.04; 100];
        let ends: Vec<f64> = (1..=100).map(|i| 0.04 * f64::from(i)).collect();
        let samples: Vec<crate::telemetry::Sample> = (0..40)
            .map(|i| crate::telemetry::Sample {
                t_s: 0.1 * f64::from(i),
                sm_mhz: 1980,
                power_mw: 650_000,
                ..Default::default()
            })
            .collect();
        r.soak = Some(crate::bench::soak::summarise(
            4.0,
            r.flop_per_matmul,
            &times,
            &ends,
            &samples,
            0.0,
        ));
        let [tflops, clocks, power] = soak_series(std::slice::from_ref(&r));
        assert_eq!((tflops.len(), clocks.len(), power.len()), (1, 1, 1));
        assert_eq!(tflops[0].points.len(), 4);
        assert_eq!(power[0].points[0], (0.5, 650.0));
        let all = charts(std::slice::from_ref(&r)).unwrap();
        let (_, svg) = all.iter().find(|(name, _)| name == "soak.svg").unwrap();
        assert!(
            svg.contains("board power (W)") && svg.contains("GPU 0 f32 n=10000"),
            "{svg}"
        );
    }

    #[test]
    fn speed_and_accuracy_are_drawn_together_one_point_per_dtype_and_n() {
        let records: Vec<RunRecord> =
            crate::record::fixtures::records("h200-precisions-2026-11-28")
                .into_iter()
                .map(|(_, r)| r)
                .collect();
        let frontier = frontier_series(&records);
        let labels: Vec<&str> = frontier.iter().map(|s| s.label.as_str()).collect();
        assert!(labels.iter().any(|l| l.contains("tf32")), "{labels:?}");
        assert!(labels.iter().any(|l| l.contains("bf16")), "{labels:?}");
        for s in &frontier {
            // Each point is a real (error, TFLOP/s) of one of the records.
            for &(e, t) in &s.points {
                assert!(records.iter().any(|r| r.matmul_tflop_per_s == t
                    && r.verification.max_element_rel_error.max(1e-17) == e));
            }
        }
        let all = charts(&records).unwrap();
        let (_, svg) = all.iter().find(|(name, _)| name == "accuracy.svg").unwrap();
        assert!(svg.contains("largest relative error"), "{svg}");
    }
}
