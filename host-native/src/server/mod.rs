//! The `crosscast` server binary: an axum + socketioxide chat app whose clients, on every
//! server of a cluster, chat with each other through Redis.
//!
//! - [`cli`]: the command line (`serve`, `emit`).
//! - `serve`: the HTTP server, its lifecycle and graceful shutdown.
//! - `cluster`: the seam between the app and the cluster (server count, server-side events,
//!   adapter choice); the embedded single-node mode today.
//! - `chat`: the Socket.IO events of namespace `/`, generic over the adapter.
//! - `http`, `page`, `metrics`: `/`, the client bundle, `/healthz`, `/metrics`.
//! - `cors`: `--cors-origin`, the origin policy of the Socket.IO endpoint.
//! - `logs`: `--log-format`, the log on stderr.
//! - `shutdown`: what a signal stops, in order (see `shutdown` for what clients see).
//! - `limits`: what one client may do (connections, payload, event rate, requests, rooms).
//! - `admin`: `--admin`, the Socket.IO Admin UI's namespace and the UI at `/admin/`.
//! - `bridge`: `--bridge CHANNEL:EVENT`; `publish`: `--publish CHANNEL[:EVENT]`; `emit`:
//!   `crosscast emit`.
//! - `redis`: the Redis flags of `serve` and `emit` (standalone, Redis Cluster seeds, the CA
//!   of `rediss://`) and the driver configuration they make.
//!
//! [`main`] is the whole binary: it never panics on bad input; every error is one line on
//! stderr and a non-zero exit status.

mod admin;
mod bridge;
mod chat;
pub mod cli;
mod cluster;
mod cors;
mod emit;
mod http;
mod limits;
mod logs;
mod metrics;
mod ordering;
mod page;
mod publish;
mod redis;
mod serve;
mod shutdown;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use cli::{Cli, Command};

/// Runs the `crosscast` command line with the process arguments and environment.
///
/// Exit status: 0 on success (and after a graceful shutdown on SIGTERM/SIGINT), 2 for invalid
/// arguments, 1 for any other failure (Redis unreachable, port in use...).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    eprintln!("crosscast: a command is required (serve or emit); see --help");
                    ExitCode::from(2)
                }
                _ => {
                    // The first paragraph of clap's message, on one line.
                    let text = e.to_string();
                    let line: Vec<&str> = text
                        .lines()
                        .map(str::trim)
                        .take_while(|l| !l.is_empty())
                        .collect();
                    let mut line = line.join(" ");
                    if let Some(variable) = cli::bad_value_source(&e) {
                        line.push_str(&format!(" (from the environment variable {variable})"));
                    }
                    eprintln!("crosscast: {}", line.trim_start_matches("error: "));
                    ExitCode::from(2)
                }
            };
        }
    };
    let log_format = cli.logs.log_format;
    logs::init(log_format);
    // What the parser cannot check alone (flags together, `emit -` reading stdin): invalid
    // input too, refused before anything starts.
    let command = match prepare(cli.command) {
        Ok(command) => command,
        Err(e) => {
            logs::fatal(log_format, &e);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            logs::fatal(log_format, &format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Prepared::Serve(config) => serve::serve(config)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Prepared::Emit(args, publication) => {
                emit::run(args, publication).await.map(|channel| {
                    tracing::info!(%channel, "published");
                })
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            logs::fatal(log_format, &e);
            ExitCode::FAILURE
        }
    }
}

/// A command whose input is complete and checked.
enum Prepared {
    Serve(cli::ServeConfig),
    /// `emit` with what it publishes (built from the command line or stdin).
    Emit(cli::EmitArgs, crosscast_core::emitter::Publication),
}

/// Checks the Redis flags together and reads `emit -`'s stdin; errors are one line.
fn prepare(command: Command) -> Result<Prepared, String> {
    match command {
        Command::Serve(config) => {
            config.redis.check()?;
            config.admin.check()?;
            Ok(Prepared::Serve(config))
        }
        Command::Emit(args) => {
            args.redis.check()?;
            let values = emit::arguments(&args, &mut std::io::stdin().lock())?;
            // A reserved event name or a value too deep is bad input too: exit 2.
            let publication = emit::publication(&args, values)?;
            Ok(Prepared::Emit(args, publication))
        }
    }
}
