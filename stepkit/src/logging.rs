//! The log: one line per event on stderr, as gunicorn's error log. Each
//! request's lines carry its number, which a 500 answer shows the client.

use std::io::IsTerminal;

/// Logs `step`'s events and the kit's at `info` to stderr; `RUST_LOG`
/// overrides the level (`RUST_LOG=warn` quiets the request lines). Call it
/// once, when `serve` starts.
pub fn init(step: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| format!("{step}=info,stepkit=info").into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
