//! One simulated client during the measured run: it records every timestamped
//! `chat message` it receives, answers Engine.IO pings, and, when it is a
//! sender, emits timestamped `chat message` events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::packet::{self, Frame};
use crate::sequence::Sequences;
use crate::wire::{self, Socket};

/// Largest latency the histograms hold (60 s, in µs); larger values are clamped.
const MAX_LATENCY_US: u64 = 60_000_000;

/// The one monotonic clock shared by every sender and receiver of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub(crate) fn start() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// Microseconds since the clock started.
    pub(crate) fn micros(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// How a sender paces its messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// One message per period (a tick that finds the window full is skipped and
    /// counted). Ticks the generator could not serve in time (it was not
    /// scheduled) are sent late, in a burst, so the offered rate holds on average.
    Every(Duration),
    /// As fast as the window allows.
    Max,
}

/// What a sending client sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPlan {
    /// Its sender index, the `"s"` of its messages.
    pub(crate) sender: u64,
    /// Its pacing.
    pub(crate) pace: Pace,
    /// Most messages of its own in flight: sent, not yet received back by itself
    /// (the server broadcasts every message to its sender too). At least 1.
    pub(crate) window: u64,
    /// When its first rate tick fires (senders are staggered over one period).
    pub(crate) from: Instant,
    /// When it stops sending.
    pub(crate) until: Instant,
}

/// Run-wide counters, read by the coordinator to know when the drain is complete.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Messages sent by all senders.
    pub(crate) sent: AtomicU64,
    /// Timestamped chat messages received by all clients.
    pub(crate) received: AtomicU64,
}

/// What one client saw.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Timestamped chat messages received.
    pub(crate) received: u64,
    /// Messages sent (0 for a receive-only client).
    pub(crate) sent: u64,
    /// Rate ticks skipped because the window was full.
    pub(crate) stalls: u64,
    /// End-to-end latencies in µs.
    pub(crate) latency: Histogram<u64>,
    /// Clock time of the last delivery, µs (0 when none).
    pub(crate) last_delivery_us: u64,
    /// Why the client stopped before the end of the run, if it did.
    pub(crate) error: Option<String>,
    /// Its sender index, when it is a sender.
    pub(crate) sender: Option<u64>,
    /// What it received of each sender, by sequence number.
    pub(crate) sequences: Sequences,
    /// Latencies over the histogram's bound, recorded as the bound.
    pub(crate) clamped: u64,
}

/// What the client does after one wake-up.
enum Step {
    Nothing,
    Read,
    Send,
}

/// Runs one client until `stop` turns true, its socket fails, or the server
/// closes it. Sends only while `plan` says so. Every read hands all complete
/// frames of the buffer to the receive path at once: one clock reading and one
/// shared-counter update per read, not per message.
pub(crate) async fn run(
    mut ws: Socket,
    plan: Option<SendPlan>,
    clock: Clock,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Outcome {
    let mut outcome = Outcome {
        received: 0,
        sent: 0,
        stalls: 0,
        latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
            .expect("static histogram bounds are valid"),
        last_delivery_us: 0,
        error: None,
        sender: plan.map(|p| p.sender),
        sequences: Sequences::default(),
        clamped: 0,
    };
    let mut sending = plan.is_some();
    let until = plan.map_or_else(Instant::now, |p| p.until);
    let deadline = tokio::time::sleep_until(until);
    tokio::pin!(deadline);
    let mut ticker = match plan {
        Some(SendPlan {
            pace: Pace::Every(period),
            from,
            ..
        }) => {
            let mut interval = tokio::time::interval_at(from, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
            Some(interval)
        }
        _ => None,
    };
    let max_pace = matches!(plan.map(|p| p.pace), Some(Pace::Max));
    let (me, window) = plan.map_or((u64::MAX, 1), |p| (p.sender, p.window.max(1)));
    let mut in_flight: u64 = 0;
    let mut frame = String::with_capacity(64);

    'run: loop {
        let may_send = sending && in_flight < window;
        let step = tokio::select! {
            biased;
            _ = stop.changed() => break,
            read = ws.fill() => match read {
                Ok(0) => {
                    outcome.error = Some("connection closed by the server".to_owned());
                    break;
                }
                Ok(_) => Step::Read,
                Err(e) => {
                    outcome.error = Some(format!("receive: {e}"));
                    break;
                }
            },
            () = &mut deadline, if sending => {
                sending = false;
                Step::Nothing
            }
            _ = tick(&mut ticker), if sending => {
                if may_send {
                    Step::Send
                } else {
                    outcome.stalls += 1;
                    Step::Nothing
                }
            }
            () = std::future::ready(()), if max_pace && may_send => Step::Send,
        };
        match step {
            Step::Nothing => {}
            Step::Read => {
                let now = clock.micros();
                let mut received = 0u64;
                let mut pongs = 0u32;
                loop {
                    let (opcode, range) = match ws.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(e) => {
                            outcome.error = Some(format!("receive: {e}"));
                            break 'run;
                        }
                    };
                    match opcode {
                        wire::OP_TEXT => {}
                        wire::OP_CLOSE => {
                            outcome.error = Some("connection closed by the server".to_owned());
                            break 'run;
                        }
                        wire::OP_PING => {
                            if let Err(e) = ws.send_pong(range).await {
                                outcome.error = Some(format!("pong: {e}"));
                                break 'run;
                            }
                            continue;
                        }
                        _ => continue,
                    }
                    let text = std::str::from_utf8(ws.payload(range)).unwrap_or("");
                    match packet::parse(text) {
                        Frame::Chat { t, s, n } => {
                            let latency = now.saturating_sub(t);
                            if latency > MAX_LATENCY_US {
                                outcome.clamped += 1;
                            }
                            outcome
                                .latency
                                .saturating_record(latency.clamp(1, MAX_LATENCY_US));
                            if let (Some(s), Some(n)) = (s, n) {
                                outcome.sequences.record(s, n);
                            }
                            received += 1;
                            if s == Some(me) {
                                in_flight = in_flight.saturating_sub(1);
                            }
                        }
                        Frame::Ping => pongs += 1,
                        Frame::Refused(why) => {
                            outcome.error = Some(format!("server ended the session: {why}"));
                            break 'run;
                        }
                        Frame::Open | Frame::Connected | Frame::Other => {}
                    }
                }
                if received > 0 {
                    outcome.received += received;
                    outcome.last_delivery_us = now;
                    counters.received.fetch_add(received, Ordering::Relaxed);
                }
                for _ in 0..pongs {
                    if let Err(e) = ws.send_text(packet::PONG.as_bytes()).await {
                        outcome.error = Some(format!("pong: {e}"));
                        break 'run;
                    }
                }
            }
            Step::Send => {
                packet::write_chat(&mut frame, clock.micros(), me, outcome.sent);
                if let Err(e) = ws.send_text(frame.as_bytes()).await {
                    outcome.error = Some(format!("send: {e}"));
                    break;
                }
                outcome.sent += 1;
                in_flight += 1;
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // Closing is best effort and bounded: the run is over either way.
    let _ = tokio::time::timeout(Duration::from_millis(500), ws.close()).await;
    outcome
}

/// The next tick of `ticker`, or never when there is none.
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
