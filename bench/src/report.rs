//! The result of a run: aggregated from every client, printed as one JSON
//! object (stdout) and a short table (stderr).

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// End-to-end latency percentiles in µs, over every delivery at every client.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

impl Latency {
    /// Reads the percentiles of `h` (all zero when it is empty).
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        Self {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// CPU and memory of one observed process over the measured interval.
#[derive(Debug, Serialize)]
pub(crate) struct ProcessReport {
    pub(crate) pid: u32,
    pub(crate) name: String,
    /// User + system CPU between the start of sending and the end of the drain.
    pub(crate) cpu_us: u64,
    pub(crate) cpu_us_per_delivery: f64,
    pub(crate) cpu_us_per_sent: f64,
    /// Peak resident set size (VmHWM) at the end of the run.
    pub(crate) peak_rss_kib: u64,
}

/// Everything one run measured. Rates are per second of the measured interval.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) label: Option<String>,
    pub(crate) servers: Vec<String>,
    pub(crate) clients_per_server: usize,
    pub(crate) clients: usize,
    pub(crate) senders: usize,
    /// `"rate"` (fixed total rate) or `"max"` (as fast as the window allows).
    pub(crate) mode: &'static str,
    pub(crate) target_rate_per_s: Option<f64>,
    pub(crate) window: u64,
    pub(crate) duration_s: f64,
    /// Time from the end of sending until every expected delivery arrived or the drain bound hit.
    pub(crate) drain_used_s: f64,
    pub(crate) sent: u64,
    pub(crate) sent_per_s: f64,
    /// Rate ticks skipped because a sender's window was full.
    pub(crate) window_stalls: u64,
    /// `sent × clients`: every client of the cluster should get every message.
    pub(crate) expected_deliveries: u64,
    pub(crate) delivered: u64,
    pub(crate) lost: u64,
    /// Deliveries beyond the expected count (duplicates or foreign senders).
    pub(crate) excess: u64,
    /// Per sender and sequence number, summed over the clients: messages a
    /// client never received (`lost` can hide these behind duplicates).
    pub(crate) missing: u64,
    /// Copies of a message a client had already received.
    pub(crate) duplicated: u64,
    /// Messages a client received after a later message of the same sender.
    pub(crate) reordered: u64,
    /// Expected deliveries the latency figures leave out: those that never came.
    pub(crate) latency_excluded: u64,
    /// Deliveries later than the histogram's 60 s bound, counted at 60 s.
    pub(crate) latency_clamped: u64,
    pub(crate) loss_ratio: f64,
    /// Deliveries per second from the first send to the last delivery.
    pub(crate) delivered_per_s: f64,
    pub(crate) latency_us: Latency,
    /// Clients that stopped before the end (closed, refused, failed).
    pub(crate) client_errors: usize,
    pub(crate) first_client_error: Option<String>,
    /// The load generator's own CPU over the measured interval.
    pub(crate) bench_cpu_us: u64,
    pub(crate) bench_cpu_us_per_delivery: f64,
    /// One entry per `--server-pid`.
    pub(crate) processes: Vec<ProcessReport>,
    /// Sum of the observed processes' CPU per delivered message.
    pub(crate) servers_cpu_us_per_delivery: f64,
}

/// `num / den`, or 0 when `den` is 0.
pub(crate) fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { 0.0 }
}

impl Report {
    /// A short human summary.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let l = &self.latency_us;
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "{} servers x {} clients, {} senders, mode {}{}, {:.1} s (+{:.2} s drain)",
            self.servers.len(),
            self.clients_per_server,
            self.senders,
            self.mode,
            self.target_rate_per_s
                .map(|r| format!(" {r}/s"))
                .unwrap_or_default(),
            self.duration_s,
            self.drain_used_s,
        );
        let _ = writeln!(
            out,
            "sent {} ({:.0}/s)  delivered {} of {} ({:.0}/s)  lost {} ({:.4}%)  stalls {}  client errors {}",
            self.sent,
            self.sent_per_s,
            self.delivered,
            self.expected_deliveries,
            self.delivered_per_s,
            self.lost,
            self.loss_ratio * 100.0,
            self.window_stalls,
            self.client_errors,
        );
        let _ = writeln!(
            out,
            "per sender and sequence: missing {}  duplicated {}  reordered {}",
            self.missing, self.duplicated, self.reordered
        );
        let _ = writeln!(
            out,
            "latency us: p50 {}  p90 {}  p99 {}  p99.9 {}  max {} (without the {} deliveries that never came; {} over 60 s)",
            l.p50, l.p90, l.p99, l.p999, l.max, self.latency_excluded, self.latency_clamped
        );
        let _ = writeln!(
            out,
            "{:<8} {:<16} {:>10} {:>12} {:>10} {:>10}",
            "pid", "process", "cpu ms", "us/deliv", "us/sent", "peak MiB"
        );
        for p in &self.processes {
            let _ = writeln!(
                out,
                "{:<8} {:<16} {:>10.0} {:>12.3} {:>10.1} {:>10.1}",
                p.pid,
                p.name,
                p.cpu_us as f64 / 1000.0,
                p.cpu_us_per_delivery,
                p.cpu_us_per_sent,
                p.peak_rss_kib as f64 / 1024.0
            );
        }
        let _ = writeln!(
            out,
            "servers: {:.3} us CPU per delivery; load generator: {:.3} us CPU per delivery",
            self.servers_cpu_us_per_delivery, self.bench_cpu_us_per_delivery
        );
        out
    }
}
