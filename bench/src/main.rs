//! `crosscast-bench`: a load generator for Socket.IO clusters.
//!
//! It opens `--clients` Socket.IO clients (Engine.IO v4 over WebSocket only) to
//! every `--url`, lets `--senders` of them emit `chat message` events carrying
//! `{t, s, n}` (sender timestamp in µs of one shared monotonic clock, sender
//! index, sequence number) for `--duration` seconds, at a fixed total `--rate`
//! or as fast as a bounded in-flight `--window` allows (`--max`), then waits at
//! most `--drain` seconds for the last deliveries. The servers must broadcast
//! every `chat message` to every client of the cluster (`io.emit`), so each
//! message is expected `clients` times.
//!
//! It reports delivered messages/s, latency percentiles, loss, its own CPU per
//! delivery, and CPU and peak RSS of each `--server-pid`: one JSON object on
//! stdout, a short table on stderr. Only loopback servers are accepted.

mod client;
mod connection;
mod endpoint;
mod packet;
mod procfs;
mod report;
mod run;
mod sequence;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::endpoint::Endpoint;
use crate::run::Plan;

/// Command-line options; every count and time is bounded.
#[derive(Debug, Parser)]
#[command(
    name = "crosscast-bench",
    version,
    about = "Socket.IO cluster load generator (loopback only)"
)]
struct Args {
    /// A server, as http://127.0.0.1:PORT (repeat for every server of the cluster; at most 16).
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// Clients per server (1..=5000).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Sending clients in total, spread over the servers (at least 1, at most all clients).
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Total messages per second over all senders (0 < rate <= 1e6).
    #[arg(long, default_value_t = 100.0, conflicts_with = "max")]
    rate: f64,
    /// Send as fast as the in-flight window allows instead of at a fixed rate.
    #[arg(long)]
    max: bool,
    /// Messages in flight over all senders: sent but not yet received back by their sender (1..=1e6).
    #[arg(long, default_value_t = 1000)]
    window: u64,
    /// Seconds of sending (0 < d <= 600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Most seconds to wait after sending for the remaining deliveries (0..=120).
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Seconds allowed for each client's connection (0 < t <= 60).
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// PID of a process to observe (CPU, peak RSS); repeatable, at most 64.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Runtime threads of the load generator (1 = a single-threaded runtime; at most 16).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Free text copied into the JSON report.
    #[arg(long)]
    label: Option<String>,
}

fn seconds(name: &str, value: f64, min_exclusive: f64, max: f64) -> Result<Duration, String> {
    if value.is_finite() && value > min_exclusive && value <= max {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "--{name} must be in ({min_exclusive}, {max}], got {value}"
        ))
    }
}

fn plan(args: &Args) -> Result<Plan, String> {
    if args.urls.len() > 16 {
        return Err("at most 16 --url".to_owned());
    }
    let servers = args
        .urls
        .iter()
        .map(|u| Endpoint::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    if !(1..=5000).contains(&args.clients) {
        return Err("--clients must be in 1..=5000".to_owned());
    }
    if args.senders == 0 || args.senders > args.clients * servers.len() {
        return Err("--senders must be in 1..=clients x servers".to_owned());
    }
    if !(1..=1_000_000).contains(&args.window) {
        return Err("--window must be in 1..=1000000".to_owned());
    }
    let rate = if args.max {
        None
    } else if args.rate.is_finite() && args.rate > 0.0 && args.rate <= 1e6 {
        Some(args.rate)
    } else {
        return Err("--rate must be in (0, 1e6]".to_owned());
    };
    if args.server_pids.len() > 64 {
        return Err("at most 64 --server-pid".to_owned());
    }
    Ok(Plan {
        label: args.label.clone(),
        servers,
        clients_per_server: args.clients,
        senders: args.senders,
        rate,
        window: args.window,
        duration: seconds("duration", args.duration, 0.0, 600.0)?,
        drain: if args.drain == 0.0 {
            Duration::ZERO
        } else {
            seconds("drain", args.drain, 0.0, 120.0)?
        },
        connect_timeout: seconds("connect-timeout", args.connect_timeout, 0.0, 60.0)?,
        server_pids: args.server_pids.clone(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("crosscast-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n @ 2..=16 => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        _ => {
            eprintln!("crosscast-bench: --threads must be in 1..=16");
            return ExitCode::from(2);
        }
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crosscast-bench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::execute(plan)) {
        Ok(report) => {
            eprint!("{}", report.table());
            match serde_json::to_string_pretty(&report) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("crosscast-bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("crosscast-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
