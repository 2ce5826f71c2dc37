//! A thin, blocking HTTP/1.1 GET over a unix socket: all the Engine API needs here.
//! One request per connection (`Connection: close`), chunked or sized bodies, a timeout.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

/// Largest body we accept (a host with thousands of containers stays well below this).
const MAX_BODY: usize = 64 << 20;

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot connect to the Docker socket {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Docker socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Docker API GET {path}: malformed response: {reason}")]
    Malformed { path: String, reason: String },
    #[error("Docker API GET {path}: HTTP {status}: {body}")]
    Status {
        path: String,
        status: u16,
        body: String,
    },
}

/// GET `path` from the server on `socket`; returns the body of a 2xx answer.
pub fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Vec<u8>, HttpError> {
    let io = |source| HttpError::Io {
        path: socket.to_owned(),
        source,
    };
    let mut s = UnixStream::connect(socket).map_err(|source| HttpError::Connect {
        path: socket.to_owned(),
        source,
    })?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: nfprobe\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    s.take(MAX_BODY as u64 + 65536)
        .read_to_end(&mut raw)
        .map_err(io)?;
    parse_response(path, &raw)
}

/// Split a full HTTP/1.1 response into status and body (de-chunked).
pub fn parse_response(path: &str, raw: &[u8]) -> Result<Vec<u8>, HttpError> {
    let bad = |reason: &str| HttpError::Malformed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| bad("headers not UTF-8"))?;
    let body = &raw[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let proto = parts.next().unwrap_or_default();
    if !proto.starts_with("HTTP/1.") {
        return Err(bad(&format!("status line `{status_line}`")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("status line `{status_line}`")))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        } else if k == "content-length" {
            length = Some(v.parse().map_err(|_| bad("bad Content-Length"))?);
        }
    }
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("bad chunked encoding"))?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or_else(|| bad("body shorter than Content-Length"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body).trim().to_owned();
        return Err(HttpError::Status {
            path: path.to_owned(),
            status,
            body: text.chars().take(300).collect(),
        });
    }
    Ok(body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(b, b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        if out.len() + size > MAX_BODY {
            return None;
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_and_chunked() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response("/x", r).unwrap(), b"{}");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(parse_response("/x", r).unwrap(), b"[1,2]");
        let r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!";
        let e = parse_response("/x", r).unwrap_err().to_string();
        assert!(e.contains("404") && e.contains("nope"), "{e}");
        assert!(parse_response("/x", b"garbage").is_err());
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_response("/x", r).is_err());
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}";
        assert!(parse_response("/x", r).is_err());
    }
}
