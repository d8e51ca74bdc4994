//! One measured run: connect every client, send for a fixed time, drain, and
//! aggregate what every client saw.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{self, Clock, Counters, Pace, SendPlan};
use crate::connection;
use crate::endpoint::Endpoint;
use crate::procfs;
use crate::report::{Latency, ProcessReport, Report, ratio};
use crate::wire::Socket;

/// Connections opened at the same time while connecting the clients.
const CONNECT_CONCURRENCY: usize = 64;
/// How often the coordinator checks whether the drain is complete.
const DRAIN_POLL: Duration = Duration::from_millis(10);
/// Bound on waiting for the clients to finish once told to stop.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Delay between the end of connecting and the first send.
const START_DELAY: Duration = Duration::from_millis(100);

/// A validated run configuration.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) label: Option<String>,
    pub(crate) servers: Vec<Endpoint>,
    pub(crate) clients_per_server: usize,
    pub(crate) senders: usize,
    /// Total messages per second over all senders; `None` sends as fast as the window allows.
    pub(crate) rate: Option<f64>,
    /// Total messages in flight over all senders.
    pub(crate) window: u64,
    pub(crate) duration: Duration,
    pub(crate) drain: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) server_pids: Vec<u32>,
}

/// Runs `plan` and reports. Fails only when the clients cannot all connect or a
/// `/proc` entry of an observed process cannot be read.
pub(crate) async fn execute(plan: Plan) -> Result<Report, String> {
    let sockets = connect_all(&plan).await?;
    let clients = sockets.len();
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);

    let start = Instant::now() + START_DELAY;
    let until = start + plan.duration;
    let per_sender_window = (plan.window / plan.senders as u64).max(1);
    let pace = match plan.rate {
        Some(rate) => Pace::Every(Duration::from_secs_f64(plan.senders as f64 / rate)),
        None => Pace::Max,
    };
    let period = match pace {
        Pace::Every(period) => period,
        Pace::Max => Duration::ZERO,
    };

    let cpu_before = cpu_snapshot(&plan.server_pids)?;
    let start_us = clock.micros() + START_DELAY.as_micros() as u64;
    let mut tasks = Vec::with_capacity(clients);
    for (index, ws) in sockets.into_iter().enumerate() {
        let send_plan = sender_index(index, &plan).map(|sender| SendPlan {
            sender: sender as u64,
            pace,
            window: per_sender_window,
            from: start + period.mul_f64(sender as f64 / plan.senders as f64),
            until,
        });
        tasks.push(tokio::spawn(client::run(
            ws,
            send_plan,
            clock,
            Arc::clone(&counters),
            stop_rx.clone(),
        )));
    }

    tokio::time::sleep_until(until).await;
    let drain_deadline = until + plan.drain;
    loop {
        let sent = counters.sent.load(Ordering::Relaxed);
        let received = counters.received.load(Ordering::Relaxed);
        if received >= sent * clients as u64 || Instant::now() >= drain_deadline {
            break;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    let drain_used = until.elapsed();
    let cpu_after = cpu_snapshot(&plan.server_pids)?;
    let _ = stop_tx.send(true);

    let mut outcomes = Vec::with_capacity(clients);
    let mut lost_tasks = 0;
    let joined = tokio::time::timeout(STOP_GRACE, async {
        for task in tasks {
            match task.await {
                Ok(outcome) => outcomes.push(outcome),
                Err(_) => lost_tasks += 1,
            }
        }
    })
    .await;
    if joined.is_err() {
        return Err(format!(
            "clients did not stop within {STOP_GRACE:?} after the run"
        ));
    }

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .expect("static histogram bounds are valid");
    let (mut sent, mut delivered, mut stalls, mut last_us) = (0u64, 0u64, 0u64, 0u64);
    let mut client_errors = lost_tasks;
    let mut first_client_error = None;
    for o in &outcomes {
        latency
            .add(&o.latency)
            .map_err(|e| format!("merging histograms: {e}"))?;
        sent += o.sent;
        delivered += o.received;
        stalls += o.stalls;
        last_us = last_us.max(o.last_delivery_us);
        if let Some(e) = &o.error {
            client_errors += 1;
            first_client_error.get_or_insert_with(|| e.clone());
        }
    }
    let expected = sent * clients as u64;
    // Per sender and sequence number: what each client missed, got twice, got late.
    let senders: Vec<(u64, u64)> = outcomes
        .iter()
        .filter_map(|o| o.sender.map(|s| (s, o.sent)))
        .collect();
    let (mut missing, mut duplicated, mut reordered, mut clamped) = (0u64, 0u64, 0u64, 0u64);
    for o in &outcomes {
        for &(s, n) in &senders {
            missing += o.sequences.missing(s, n);
        }
        duplicated += o.sequences.duplicated;
        reordered += o.sequences.reordered;
        clamped += o.clamped;
    }
    // Clients whose task was lost received nothing anyone can count.
    missing += lost_tasks as u64 * sent;
    let active_s = if last_us > start_us {
        (last_us - start_us) as f64 / 1e6
    } else {
        plan.duration.as_secs_f64()
    };

    let (bench_before, servers_before) = cpu_before;
    let (bench_after, servers_after) = cpu_after;
    let bench_cpu_us = (bench_after - bench_before).as_micros() as u64;
    let mut processes = Vec::with_capacity(plan.server_pids.len());
    for ((&pid, before), after) in plan
        .server_pids
        .iter()
        .zip(servers_before)
        .zip(servers_after)
    {
        let cpu_us = (after.saturating_sub(before)).as_micros() as u64;
        processes.push(ProcessReport {
            pid,
            name: procfs::command_name(Some(pid)),
            cpu_us,
            cpu_us_per_delivery: ratio(cpu_us as f64, delivered as f64),
            cpu_us_per_sent: ratio(cpu_us as f64, sent as f64),
            peak_rss_kib: procfs::peak_rss_kib(Some(pid))
                .map_err(|e| format!("/proc/{pid}/status: {e}"))?,
        });
    }
    let servers_cpu: u64 = processes.iter().map(|p| p.cpu_us).sum();

    Ok(Report {
        label: plan.label.clone(),
        servers: plan.servers.iter().map(ToString::to_string).collect(),
        clients_per_server: plan.clients_per_server,
        clients,
        senders: plan.senders,
        mode: if plan.rate.is_some() { "rate" } else { "max" },
        target_rate_per_s: plan.rate,
        window: plan.window,
        duration_s: plan.duration.as_secs_f64(),
        drain_used_s: drain_used.as_secs_f64(),
        sent,
        sent_per_s: ratio(sent as f64, plan.duration.as_secs_f64()),
        window_stalls: stalls,
        expected_deliveries: expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        excess: delivered.saturating_sub(expected),
        missing,
        duplicated,
        reordered,
        latency_excluded: missing,
        latency_clamped: clamped,
        loss_ratio: ratio(expected.saturating_sub(delivered) as f64, expected as f64),
        delivered_per_s: ratio(delivered as f64, active_s),
        latency_us: Latency::of(&latency),
        client_errors,
        first_client_error,
        bench_cpu_us,
        bench_cpu_us_per_delivery: ratio(bench_cpu_us as f64, delivered as f64),
        processes,
        servers_cpu_us_per_delivery: ratio(servers_cpu as f64, delivered as f64),
    })
}

/// The sender index of client `index`, if it is a sender: senders are spread
/// round-robin over the servers, the first clients of each server.
fn sender_index(index: usize, plan: &Plan) -> Option<usize> {
    let n = plan.servers.len();
    let (server, slot) = (
        index / plan.clients_per_server,
        index % plan.clients_per_server,
    );
    let sender = slot * n + server;
    (sender < plan.senders).then_some(sender)
}

type CpuSnapshot = (Duration, Vec<Duration>);

fn cpu_snapshot(pids: &[u32]) -> Result<CpuSnapshot, String> {
    let own = procfs::cpu_time(None).map_err(|e| format!("/proc/self/stat: {e}"))?;
    let servers = pids
        .iter()
        .map(|&pid| procfs::cpu_time(Some(pid)).map_err(|e| format!("/proc/{pid}/stat: {e}")))
        .collect::<Result<_, _>>()?;
    Ok((own, servers))
}

/// Opens `clients_per_server` clients to every server, server by server in
/// order; fails if any of them fails.
async fn connect_all(plan: &Plan) -> Result<Vec<Socket>, String> {
    let targets: Vec<&Endpoint> = plan
        .servers
        .iter()
        .flat_map(|s| std::iter::repeat_n(s, plan.clients_per_server))
        .collect();
    let timeout = plan.connect_timeout;
    let results: Vec<Result<Socket, String>> = futures_util::stream::iter(targets)
        .map(|endpoint| connection::open(endpoint, timeout))
        .buffered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
        return Err(format!(
            "{failed} of {} clients failed to connect; first: {first}",
            results.len()
        ));
    }
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(servers: usize, clients: usize, senders: usize) -> Plan {
        Plan {
            label: None,
            servers: (0..servers)
                .map(|i| Endpoint::parse(&format!("127.0.0.1:{}", 3000 + i)).expect("loopback"))
                .collect(),
            clients_per_server: clients,
            senders,
            rate: Some(10.0),
            window: 10,
            duration: Duration::from_secs(1),
            drain: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            server_pids: vec![],
        }
    }

    #[test]
    fn senders_are_spread_over_the_servers() {
        let p = plan(3, 4, 5);
        let senders: Vec<_> = (0..12).map(|i| sender_index(i, &p)).collect();
        // server 0: clients 0..4, server 1: 4..8, server 2: 8..12
        assert_eq!(
            senders,
            [
                Some(0),
                Some(3),
                None,
                None,
                Some(1),
                Some(4),
                None,
                None,
                Some(2),
                None,
                None,
                None
            ]
        );
    }
}
