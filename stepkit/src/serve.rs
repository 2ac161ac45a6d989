//! `serve`: the part gunicorn plays for a Flask app. It listens on
//! 127.0.0.1 only, bounds how long a client may take, and stops gracefully
//! on Ctrl-C or SIGTERM (what `docker stop` and systemd send), letting the
//! requests in flight finish.

use std::fmt::Display;
use std::net::Ipv4Addr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::Error;

/// How long a client may take to send a request's headers, or to start the
/// next request on a kept-alive connection, before it is disconnected.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `serve` waits after a stop signal for the requests in flight.
pub const GRACE: Duration = Duration::from_secs(10);

/// A tokio runtime for `serve`, started only once the step's blocking
/// preparation (opening the database, say) is done.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Runtime::new().map_err(Error::Runtime)
}

// ANCHOR: serve
/// Serves `app` on 127.0.0.1:`port` (0 picks a free port) until Ctrl-C or
/// SIGTERM, and prints the URL, naming the database `what`. hyper reads
/// each connection, so the time a client may take to send its headers is
/// bounded (`axum::serve` sets no such limit).
pub async fn serve(app: Router, port: u16, what: impl Display) -> Result<(), Error> {
    let mut stop = Stop::listen().map_err(Error::Runtime)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let url = format!("http://{}/", listener.local_addr()?);
    let what = crate::printable(&what.to_string()); // a path may hold an escape sequence
    println!("Serving {what} on {url} (Ctrl-C stops)");
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => { // out of file descriptors, say: let some close
                    tracing::warn!("cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.signalled() => break,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        tokio::spawn(graceful.watch(connection));
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => println!("Stopped."),
        () = tokio::time::sleep(GRACE) => println!("Stopped without waiting longer for open requests."),
        () = stop.signalled() => println!("Stopped at the second signal."),
    }
    Ok(())
}
// ANCHOR_END: serve

/// The signals that stop the server. Listening starts before the URL is
/// printed, so a signal sent right after it is never missed.
struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Stop {
    #[cfg(unix)]
    fn listen() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Stop {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(windows)]
    fn listen() -> std::io::Result<Stop> {
        Ok(Stop {
            ctrl_c: tokio::signal::windows::ctrl_c()?,
        })
    }

    /// Waits for Ctrl-C (SIGINT) or SIGTERM.
    async fn signalled(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(windows)]
        self.ctrl_c.recv().await;
    }
}
