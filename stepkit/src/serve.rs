//! `serve`: the part gunicorn plays for a Flask app. It listens on
//! 127.0.0.1 only, bounds how long a client may take, and stops gracefully
//! on Ctrl-C or SIGTERM (what `docker stop` and systemd send), letting the
//! requests in flight finish.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
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
/// bounded (`axum::serve` sets no such limit). Each request carries the
/// address of the connection's peer, for [`client_address`].
pub async fn serve(app: Router, port: u16, what: impl Display) -> Result<(), Error> {
    trusted_proxy()?;
    let mut stop = Stop::listen().map_err(Error::Runtime)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let url = format!("http://{}/", listener.local_addr()?);
    let what = crate::printable(&what.to_string()); // a path may hold an escape sequence
    println!("Serving {what} on {url} (Ctrl-C stops)");
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => { // out of file descriptors, say: let some close
                    tracing::warn!("cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.signalled() => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            service.call(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
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

// ANCHOR: client_address
/// Where a request came from, when this server can tell: `None` unless
/// `TRUSTED_PROXY` names the proxy in front of it. The server listens on
/// 127.0.0.1, so without a proxy every client is this machine, and with
/// one every connection comes from the proxy: only the proxy knows the
/// real address, and appends it to `X-Forwarded-For`. So a request that
/// the trusted proxy passed on came from the last address in that header;
/// a request from any other peer came from that peer. Unless it too sends
/// `X-Forwarded-For`: then it is most likely the proxy, from an address
/// `TRUSTED_PROXY` does not name, and counting its one address would make
/// every client wait for one guesser; the log says so, and nothing is
/// counted.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    let proxy = trusted_proxy().ok().flatten()?;
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    if peer.ip() != proxy {
        if !parts.headers.contains_key("x-forwarded-for") {
            return Some(peer.ip());
        }
        static SAID: OnceLock<()> = OnceLock::new();
        SAID.get_or_init(|| {
            tracing::warn!(
                "a request from {} carries X-Forwarded-For, but TRUSTED_PROXY is {proxy}: is that the proxy's address?",
                peer.ip()
            );
        });
        return None;
    }
    let forwarded = parts.headers.get_all("x-forwarded-for").iter().next_back();
    let last = forwarded.and_then(|value| value.to_str().ok()?.rsplit(',').next());
    let address = last.and_then(forwarded_address);
    if address.is_none() {
        static SAID: OnceLock<()> = OnceLock::new();
        SAID.get_or_init(|| {
            tracing::warn!("the proxy sent no client address in X-Forwarded-For: none is counted");
        });
    }
    address
}

/// An address as proxies write it in `X-Forwarded-For`: `192.0.2.7`,
/// `192.0.2.7:5555`, `2001:db8::7` or `[2001:db8::7]:5555`.
fn forwarded_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let address = match text.parse::<IpAddr>() {
        Ok(address) => address,
        Err(_) => text.parse::<SocketAddr>().ok()?.ip(),
    };
    Some(address.to_canonical())
}

/// The address in `TRUSTED_PROXY`, read once. `serve` refuses, before it
/// listens, a value that could never be its peer: it listens on 127.0.0.1,
/// so its proxy connects from a 127.x.x.x address. With another value every
/// client would count as the one peer that is not the proxy, and one
/// guesser would make them all wait.
fn trusted_proxy() -> Result<Option<IpAddr>, Error> {
    static PROXY: OnceLock<Result<Option<IpAddr>, String>> = OnceLock::new();
    let read = PROXY.get_or_init(|| {
        let value = std::env::var("TRUSTED_PROXY").unwrap_or_default();
        if value.trim().is_empty() {
            return Ok(None);
        }
        let shown = crate::text::quote(&value);
        match value.trim().parse::<IpAddr>().map(|address| address.to_canonical()) {
            Ok(address) if address.is_loopback() && address.is_ipv4() => Ok(Some(address)),
            Ok(_) => Err(format!(
                "TRUSTED_PROXY is {shown}, but this server listens on 127.0.0.1, so its proxy connects from a 127.x.x.x address"
            )),
            Err(_) => Err(format!(
                "TRUSTED_PROXY is {shown}, which is not an IP address (say 127.0.0.1)"
            )),
        }
    });
    read.clone().map_err(Error::Setting)
}
// ANCHOR_END: client_address

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
