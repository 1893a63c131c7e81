//! What the benchmark's load generators (`h3-load`, `tls-load`) print.

/// The run's summary as JSON: `requests` (good ones), `errors`, `seconds`,
/// `rps`, `p50_ms`, `p99_ms`, from the good requests' latencies in µs.
pub fn report(mut latencies: Vec<u32>, errors: u64, seconds: f64) -> serde_json::Value {
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    serde_json::json!({
        "requests": latencies.len(),
        "errors": errors,
        "seconds": seconds,
        "rps": latencies.len() as f64 / seconds,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    })
}

/// A latency in µs as the reports keep it.
pub fn micros(elapsed: std::time::Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}
