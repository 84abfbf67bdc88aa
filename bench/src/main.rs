//! push-bench: one load generator for push-rs and its peers.
//!
//! `push-bench run` drives N subscribers (SSE, WebSocket, socket.io, push-rs long-poll, push-rs
//! JSON batch or Nchan long-poll) on C channels of any server named by URL templates, publishes M
//! messages over HTTP POST, and measures delivery latency (the publish time is in the payload;
//! publisher and subscribers share this process's monotonic clock), deliveries per second, lost
//! and duplicated messages, gaps, connect errors, and the server's memory and CPU time from /proc.
//! `push-bench table` prints the side-by-side table of several result files; `push-bench check`
//! fails when any of them lost, duplicated or missed something. See docs/benchmarks.md.
//!
//! [`run`] holds the run's phases, [`publisher`] and [`subscriber`] the two sides of the load,
//! [`cpu`] and [`mem`] the server's figures; [`table`] and [`check`] read the result files.

mod check;
mod cpu;
mod error;
mod fd_limit;
mod mem;
mod publisher;
mod result_file;
mod run;
mod subscriber;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use run::args::RunArgs;

#[derive(Parser)]
#[command(name = "push-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one scenario against one server and write a JSON result.
    Run(Box<RunArgs>),
    /// Print the side-by-side table of result files (push-rs first, then peers with ratios).
    Table {
        /// Result files written by `run` (`--out`).
        files: Vec<PathBuf>,
        /// The server the ratios are relative to.
        #[arg(long, default_value = "push-rs")]
        baseline: String,
    },
    /// Exit 1 unless every result file has every message delivered exactly once: no loss, no
    /// duplicate, no gap, no connect or publish error, every subscriber ready (CI smoke test).
    Check {
        files: Vec<PathBuf>,
    },
}

fn main() {
    fd_limit::raise();
    // reqwest is built without a rustls provider of its own (push-core picks ring).
    push_core::tls::ensure_provider();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            let result = rt.block_on(run::run(*args));
            // Dropping 10k connections at once is fine; don't wait for graceful closes.
            rt.shutdown_timeout(Duration::from_secs(2));
            if let Err(e) = result {
                eprintln!("push-bench: {e}");
                std::process::exit(1);
            }
        }
        Cmd::Table { files, baseline } => {
            if let Err(e) = table::table(&files, &baseline) {
                eprintln!("push-bench: {e}");
                std::process::exit(1);
            }
        }
        Cmd::Check { files } => match check::check(&files) {
            Ok(true) => {}
            Ok(false) => std::process::exit(1),
            Err(e) => {
                eprintln!("push-bench: {e}");
                std::process::exit(2);
            }
        },
    }
}
