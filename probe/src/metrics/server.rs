//! HTTP for the exporter through tiny_http (blocking, no async runtime): `GET /metrics` and
//! `GET /healthz`; anything else is 404, other methods 405.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;
use tiny_http::{Header, Method, Request, Response};

use super::encode::{Exporter, Format};

#[derive(Debug, Error)]
#[error("cannot listen on {addr}: {reason}")]
pub struct BindError {
    pub addr: String,
    pub reason: String,
}

pub struct Server {
    http: tiny_http::Server,
    addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

/// How long a worker may go without a beat before /healthz says 503.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

impl Server {
    pub fn bind(addr: &str) -> Result<Self, BindError> {
        let http = tiny_http::Server::http(addr).map_err(|e| BindError {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?;
        let addr = http.server_addr().to_ip();
        Ok(Self { http, addr })
    }

    /// The address actually bound (a port 0 request gets a real port).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Answer requests until `stop()` says so (checked at least every 200 ms).
    pub fn run(&self, exporter: &Exporter, stop: &dyn Fn() -> bool) {
        while !stop() {
            match self.http.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(req)) => handle(req, exporter),
                Ok(None) => {}
                Err(e) => {
                    log::warn!("HTTP: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn text(status: u16, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body).with_status_code(status);
    if let Some(h) = header("Content-Type", "text/plain; charset=utf-8") {
        r.add_header(h);
    }
    r
}

fn handle(req: Request, exporter: &Exporter) {
    let path = req.url().split('?').next().unwrap_or("").to_owned();
    let resp = match (req.method(), path.as_str()) {
        (Method::Get | Method::Head, "/metrics") => {
            let accept = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Accept"))
                .map(|h| h.value.as_str().to_owned());
            let format = Format::negotiate(accept.as_deref());
            match exporter.render(format) {
                Ok(body) => {
                    let mut r = Response::from_string(body);
                    if let Some(h) = header("Content-Type", format.content_type()) {
                        r.add_header(h);
                    }
                    r
                }
                Err(_) => text(500, "encoding the metrics failed\n".into()),
            }
        }
        (Method::Get | Method::Head, "/healthz") => health(exporter),
        (Method::Get | Method::Head, "/") => text(
            200,
            "nfprobe serve: /metrics (Prometheus), /healthz\n".into(),
        ),
        (Method::Get | Method::Head, _) => text(404, "not found: try /metrics\n".into()),
        _ => text(405, "only GET and HEAD\n".into()),
    };
    if let Err(e) = req.respond(resp) {
        log::debug!("HTTP: answering {path}: {e}");
    }
}

/// 200 while every worker (ruleset watch, check, drops) goes round its loop; 503 naming the
/// one that stopped.
fn health(exporter: &Exporter) -> Response<std::io::Cursor<Vec<u8>>> {
    let st = exporter.state();
    let now = Instant::now();
    let stale: Vec<String> = st
        .beats
        .iter()
        .filter(|(_, at)| now.duration_since(*at) > STALE_AFTER)
        .map(|(w, at)| format!("{w} silent for {} s", now.duration_since(*at).as_secs()))
        .collect();
    if !stale.is_empty() {
        return text(503, format!("unhealthy: {}\n", stale.join(", ")));
    }
    let mut body = String::from("ok\n");
    if let Some(e) = &st.checks.last_error {
        body.push_str(&format!("last check failed: {e}\n"));
    }
    if let Some(e) = &st.drop_probe_error {
        body.push_str(&format!("drop probe not running: {e}\n"));
    }
    text(200, body)
}
