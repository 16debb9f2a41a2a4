//! Times the core's `receive` natively, with the same method as `run.mjs` (see README.md), and
//! prints `{"<webhook>": <CPU µs per webhook>, …}` on stdout, progress on stderr.
//!
//! `cpu-native [NAME…]` times only the named webhooks; `cpu-native --iterations N NAME` runs
//! `NAME` N times untimed (for a profiler such as callgrind). `cpu-native --vis-worst-case` times
//! the refused [`VIS_WORST_CASES`] instead and prints `{"<name>": {"us": <CPU µs>, "code":
//! "<error code>"}, …}`.

use std::process::ExitCode;
use std::time::Duration;

use switchboard_bench_cpu::{
    receive_repeatedly, refuse_repeatedly, vis_worst_case, webhook, BenchError, VIS_WORST_CASES,
    WEBHOOKS,
};

/// Untimed warm-up before calibrating.
const WARM_UP: Duration = Duration::from_millis(100);
/// How long each timed round lasts, at least.
const ROUND: Duration = Duration::from_millis(200);
/// Timed rounds per webhook; the median is reported.
const ROUNDS: usize = 5;

fn main() -> ExitCode {
    match bench(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cpu-native: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: Vec<String>) -> Result<(), BenchError> {
    if args == ["--vis-worst-case"] {
        return bench_vis_worst_cases();
    }
    if let [flag, iterations, name] = args.as_slice() {
        if flag == "--iterations" {
            let iterations = iterations.parse().unwrap_or(1);
            receive_repeatedly(&webhook(index_of(name)?)?, iterations)?;
            return Ok(());
        }
    }
    let indices = if args.is_empty() {
        (0..WEBHOOKS.len()).collect()
    } else {
        args.iter()
            .map(|name| index_of(name))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut results = Vec::new();
    for index in indices {
        let webhook = webhook(index)?;
        let micros = micros_per_run(16, |iterations| {
            receive_repeatedly(&webhook, iterations).map(drop)
        })?;
        eprintln!("native {:<16} {micros:>9.2} µs", webhook.name);
        results.push(format!("\"{}\":{micros:.2}", webhook.name));
    }
    println!("{{{}}}", results.join(","));
    Ok(())
}

/// A worst-case receipt can take seconds on a slow implementation, so warm-up and
/// calibration go one receipt at a time.
fn bench_vis_worst_cases() -> Result<(), BenchError> {
    let mut results = Vec::new();
    for index in 0..VIS_WORST_CASES.len() {
        let webhook = vis_worst_case(index)?;
        let code = refuse_repeatedly(&webhook, 1)?;
        let micros = micros_per_run(1, |iterations| {
            refuse_repeatedly(&webhook, iterations).map(drop)
        })?;
        eprintln!("native {:<22} {micros:>12.2} µs  {code}", webhook.name);
        results.push(format!(
            "\"{}\":{{\"us\":{micros:.2},\"code\":\"{code}\"}}",
            webhook.name
        ));
    }
    println!("{{{}}}", results.join(","));
    Ok(())
}

fn index_of(name: &str) -> Result<usize, BenchError> {
    WEBHOOKS
        .iter()
        .position(|known| *known == name)
        .ok_or_else(|| BenchError::UnknownName(name.to_owned()))
}

/// Warms up in batches of `batch` iterations, finds an iteration count that lasts about
/// [`ROUND`], then returns the median over [`ROUNDS`] rounds of that count, in µs per iteration.
/// `run(n)` runs `n` iterations.
fn micros_per_run(
    batch: u32,
    run: impl Fn(u32) -> Result<(), BenchError>,
) -> Result<f64, BenchError> {
    let timed = |iterations: u32| -> Result<Duration, BenchError> {
        let start = cpu_time();
        run(iterations)?;
        Ok(cpu_time().saturating_sub(start))
    };
    let warm_up_end = cpu_time() + WARM_UP;
    while cpu_time() < warm_up_end {
        timed(batch)?;
    }
    let mut iterations = 1u32;
    let mut elapsed = timed(iterations)?;
    while elapsed < ROUND / 4 {
        iterations = iterations.saturating_mul(2);
        elapsed = timed(iterations)?;
    }
    let iterations = scaled(iterations, elapsed);
    let mut rounds = (0..ROUNDS)
        .map(|_| Ok(timed(iterations)?.as_secs_f64() * 1e6 / f64::from(iterations)))
        .collect::<Result<Vec<f64>, BenchError>>()?;
    rounds.sort_by(f64::total_cmp);
    Ok(rounds[ROUNDS / 2])
}

/// The iteration count that lasts about [`ROUND`], given that `iterations` took `elapsed`.
fn scaled(iterations: u32, elapsed: Duration) -> u32 {
    let factor = ROUND.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
    (f64::from(iterations) * factor)
        .ceil()
        .clamp(1.0, f64::from(u32::MAX)) as u32
}

/// The CPU time (user + system) this process has used. Unlike wall time it does not grow while
/// the process waits for a core, so other work on the machine does not inflate the figures.
fn cpu_time() -> Duration {
    cpu_time::ProcessTime::now().as_duration()
}
