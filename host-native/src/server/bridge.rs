//! `--bridge CHANNEL:EVENT`: messages PUBLISHed on a plain Redis channel become Socket.IO
//! events for the local clients of this server.
//!
//! Every server of the cluster subscribes to the channel itself and emits to its own clients
//! only (`io.local()`), so each client receives each message exactly once. The payload is
//! emitted as a string when it is UTF-8, else as binary. In a sharded cluster the channels are
//! shard channels (SSUBSCRIBE). A message this server published itself with `--publish` on
//! the same channel is delivered once, not twice (see `publish`).

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::driver::{Driver, DriverEvent};

use super::cli::Bridge;
use super::metrics::Metrics;
use super::publish::{self, Publisher};

/// Subscribes every bridge channel on `driver` and spawns the task that emits their messages
/// (and logs the driver's connection changes) until `events` ends.
pub(crate) fn spawn<A: Adapter>(
    io: SocketIo<A>,
    driver: &Driver,
    mut events: mpsc::Receiver<DriverEvent>,
    bridges: Vec<Bridge>,
    metrics: Arc<Metrics>,
    publisher: Arc<Publisher>,
) -> JoinHandle<()> {
    for bridge in &bridges {
        match driver.subscribe(bridge.channel.clone()) {
            Ok(()) => info!(channel = %bridge.channel, event = %bridge.event, "bridge"),
            Err(e) => warn!(channel = %bridge.channel, "bridge subscription failed: {e}"),
        }
    }
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                DriverEvent::Message {
                    channel, payload, ..
                } => {
                    if publisher.take_echo(&channel, &payload) {
                        continue;
                    }
                    let data = publish::bridged_form(&payload);
                    for bridge in bridges.iter().filter(|b| b.channel == channel) {
                        metrics.bridge_message();
                        if let Err(e) = io.local().emit(&bridge.event, &data).await {
                            warn!(event = %bridge.event, "bridge emit failed: {e}");
                        }
                    }
                }
                DriverEvent::Disconnected { reason } => warn!("Redis connection lost: {reason}"),
                DriverEvent::Connected => info!("Redis connected"),
                DriverEvent::Resubscribed => info!("Redis subscriptions restored"),
            }
        }
    })
}
