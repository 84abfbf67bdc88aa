//! `push-server`: parse flags, set up logs, bind, run until SIGINT or SIGTERM.

use clap::Parser;
use push_server::config::{Command, Config, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    if let Some(Command::Token { channel, consumer, expires_in, expires_at }) = &config.command {
        return print_token(&config, channel, consumer.as_deref(), *expires_in, *expires_at);
    }
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour()).with_writer(std::io::stderr).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init(),
    }
    if let Err(reason) = config.validate() {
        eprintln!("push-server: {reason}");
        return std::process::ExitCode::from(2);
    }
    push_server::raise_open_files_limit();
    let listener = match push_server::listener::bind(config.bind) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("push-server: cannot listen on {}: {e}", config.bind);
            return std::process::ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%addr, broker = %push_core::amqp::redact(&config.broker), "push-server listening");
    match push_server::run(listener, config, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("push-server: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Colour only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// `push-server token`: mints a subscriber token, as the SDKs do.
fn print_token(config: &Config, channel: &str, consumer: Option<&str>, expires_in: u64, expires_at: Option<u64>) -> std::process::ExitCode {
    let Some(secret) = config.secret.as_deref().filter(|s| !s.is_empty()) else {
        eprintln!("push-server token: set --secret or PUSH_SECRET");
        return std::process::ExitCode::from(2);
    };
    let claims = push_core::token::Claims {
        channel: channel.to_owned(),
        consumer: consumer.map(str::to_owned),
        expires_at: expires_at.unwrap_or(push_core::message::now_millis() / 1000 + expires_in),
    };
    match push_core::token::sign(secret.as_bytes(), &claims) {
        Ok(token) => {
            println!("{token}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("push-server token: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
