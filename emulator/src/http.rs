//! HTTP/1.1 wire format: just enough of RFC 9112 for the clients this emulator meets
//! (ureq, libcurl, Python's urllib/requests, curl on the command line).
//!
//! Reading is split into the head and the body so the connection loop can answer
//! `Expect: 100-continue` in between (curl sends it for larger bodies).

use std::io::{self, BufRead, Read};

/// Largest request head (request line + headers) accepted; real servers use 8-64 KiB.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Bodies above this are read and thrown away (the Edge limit is 64 KB, so the endpoint
/// answers 413 anyway); keeping the bytes would only let a client exhaust memory.
pub(crate) const MAX_BODY_KEPT: usize = 1024 * 1024;

/// A parsed request. `path` is the raw path without the query; `query` is decoded.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was larger than [`MAX_BODY_KEPT`]; `body` holds only its start.
    pub body_too_large: bool,
    /// `true` for HTTP/1.0 (keep-alive only on request).
    pub http10: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this exchange.
    pub fn wants_close(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        let has = |token: &str| connection.split(',').any(|t| t.trim() == token);
        if self.http10 {
            !has("keep-alive")
        } else {
            has("close")
        }
    }

    pub fn expects_continue(&self) -> bool {
        !self.http10
            && self
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed (or the socket failed) between requests: just drop the connection.
    Closed,
    /// The bytes are not HTTP we understand: answer with this status and close.
    Bad(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

/// Reads one request head. The body is left in the reader for [`read_body`].
pub(crate) fn read_head<R: BufRead>(reader: &mut R) -> Result<Request, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let request_line = loop {
        let line = read_line(reader, &mut budget)?.ok_or(ReadError::Closed)?;
        if !line.is_empty() {
            break line;
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, "only HTTP/1.0 and HTTP/1.1 are served")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ReadError::Bad(400, "malformed method"));
    }

    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?
            .ok_or(ReadError::Bad(400, "connection closed inside the header"))?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, "header line without a colon"));
        };
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err(ReadError::Bad(400, "malformed header name"));
        }
        headers.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }

    let (path, query) = split_target(target)?;
    Ok(Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body: Vec::new(),
        body_too_large: false,
        http10,
    })
}

/// Reads the body announced by the head: chunked, Content-Length, or none.
pub(crate) fn read_body<R: BufRead>(reader: &mut R, req: &mut Request) -> Result<(), ReadError> {
    if let Some(te) = req.header("transfer-encoding") {
        if !te.trim().eq_ignore_ascii_case("chunked") {
            return Err(ReadError::Bad(
                501,
                "only chunked transfer-encoding is supported",
            ));
        }
        return read_chunked(reader, req);
    }
    let Some(length) = req.header("content-length") else {
        return Ok(());
    };
    let length: u64 = length
        .trim()
        .parse()
        .map_err(|_| ReadError::Bad(400, "malformed Content-Length"))?;
    read_exact_into(reader, length, req)
}

fn read_chunked<R: BufRead>(reader: &mut R, req: &mut Request) -> Result<(), ReadError> {
    loop {
        let mut budget = 4096;
        let line = read_line(reader, &mut budget)?.ok_or(ReadError::Closed)?;
        // Chunk extensions (";name=value") are allowed and meaningless here.
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| ReadError::Bad(400, "malformed chunk size"))?;
        if size == 0 {
            break;
        }
        read_exact_into(reader, size, req)?;
        let mut budget = 2;
        if read_line(reader, &mut budget)? != Some(String::new()) {
            return Err(ReadError::Bad(400, "chunk not followed by CRLF"));
        }
    }
    // Trailer fields, ignored, up to the empty line.
    let mut budget = MAX_HEAD_BYTES;
    while let Some(line) = read_line(reader, &mut budget)? {
        if line.is_empty() {
            return Ok(());
        }
    }
    Err(ReadError::Closed)
}

/// Appends `length` body bytes, keeping at most [`MAX_BODY_KEPT`] of them.
fn read_exact_into<R: BufRead>(
    reader: &mut R,
    length: u64,
    req: &mut Request,
) -> Result<(), ReadError> {
    let room = (MAX_BODY_KEPT - req.body.len()) as u64;
    let keep = length.min(room);
    let start = req.body.len();
    req.body.resize(start + keep as usize, 0);
    reader.read_exact(&mut req.body[start..])?;
    let discard = length - keep;
    if discard > 0 {
        req.body_too_large = true;
        let copied = io::copy(&mut reader.take(discard), &mut io::sink())?;
        if copied != discard {
            return Err(ReadError::Closed);
        }
    }
    Ok(())
}

/// One CRLF- (or bare LF-) terminated line, without the terminator. `None` at a clean EOF
/// before any byte. `budget` bounds the bytes read so a client cannot grow the line forever.
fn read_line<R: BufRead>(reader: &mut R, budget: &mut usize) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let limit = (*budget as u64) + 1;
    let n = reader.take(limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return if n as u64 >= limit {
            Err(ReadError::Bad(431, "request header too large"))
        } else {
            Err(ReadError::Closed)
        };
    }
    *budget -= n.min(*budget);
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Bad(400, "request head is not UTF-8"))
}

/// Splits a request target into its raw path and decoded query pairs. Absolute-form
/// targets (sent to proxies) are reduced to their path.
fn split_target(target: &str) -> Result<(String, Vec<(String, String)>), ReadError> {
    let target = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let rest = &target[i + 3..];
            match rest.find('/') {
                Some(j) => &rest[j..],
                None => "/",
            }
        }
        _ => target,
    };
    if !target.starts_with('/') {
        return Err(ReadError::Bad(400, "request target must be a path"));
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok((path.to_string(), parse_form(query)))
}

/// Parses `a=1&b=x%20y` (application/x-www-form-urlencoded, also used for query
/// strings): `+` is a space, `%XX` a byte. Keys without `=` get an empty value.
pub(crate) fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    // A stray '%' is kept, as browsers do.
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response to serialise. `Content-Length` and `Connection` are added on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status).with_body("application/json", value.to_string().into_bytes())
    }

    pub fn with_body(mut self, content_type: &str, body: Vec<u8>) -> Response {
        self.set_header("content-type", content_type);
        self.body = body;
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces any header of that name.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// Status line and headers. `content_length` is what the head announces, normally
    /// `body.len()`; the truncation fault announces more than it sends.
    pub fn head_bytes(&self, content_length: usize, close: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        // RFC 9110 §8.6: no Content-Length on 1xx and 204.
        if !(self.status < 200 || self.status == 204) {
            head.push_str(&format!("content-length: {content_length}\r\n"));
        }
        if close {
            head.push_str("connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    /// The whole response in one buffer, so it leaves in one write (one TCP segment for
    /// small bodies, which matters for latency with Nagle off).
    pub fn to_bytes(&self, close: bool) -> Vec<u8> {
        let body: &[u8] = if self.status == 204 { &[] } else { &self.body };
        let mut out = self.head_bytes(body.len(), close);
        out.extend_from_slice(body);
        out
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        207 => "Multi-Status",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn read(raw: &str) -> Result<Request, ReadError> {
        let mut reader = BufReader::new(raw.as_bytes());
        let mut req = read_head(&mut reader)?;
        read_body(&mut reader, &mut req)?;
        Ok(req)
    }

    #[test]
    fn parses_head_query_and_content_length_body() {
        let req = read(
            "POST /ee/v2/interact?dataStreamId=ds%201&x=a+b&flag HTTP/1.1\r\nHost: h\r\nX-Request-ID:  abc \r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/ee/v2/interact");
        assert_eq!(req.query_param("dataStreamId"), Some("ds 1"));
        assert_eq!(req.query_param("x"), Some("a b"));
        assert_eq!(req.query_param("flag"), Some(""));
        assert_eq!(req.header("x-request-id"), Some("abc"));
        assert_eq!(req.headers[1].0, "x-request-id");
        assert_eq!(req.body, b"{}");
        assert!(!req.wants_close());
    }

    #[test]
    fn parses_chunked_body_with_extensions_and_trailers() {
        let req = read(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.body, b"abc0123456789");
    }

    #[test]
    fn connection_semantics() {
        let close = read("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").unwrap();
        assert!(close.wants_close());
        let old = read("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(old.wants_close());
        let old_ka = read("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(!old_ka.wants_close());
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(read("hello\r\n\r\n"), Err(ReadError::Bad(400, _))));
        assert!(matches!(
            read("GET / HTTP/2.0\r\n\r\n"),
            Err(ReadError::Bad(505, _))
        ));
        assert!(matches!(read(""), Err(ReadError::Closed)));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000));
        assert!(matches!(read(&huge), Err(ReadError::Bad(431, _))));
    }

    #[test]
    fn oversized_body_is_drained_not_kept() {
        let big = "x".repeat(MAX_BODY_KEPT + 10);
        let raw = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        );
        let req = read(&raw).unwrap();
        assert!(req.body_too_large);
        assert_eq!(req.body.len(), MAX_BODY_KEPT);
    }

    #[test]
    fn percent_decoding_keeps_stray_percent() {
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
        assert_eq!(
            parse_form("k=v&&=e"),
            vec![("k".into(), "v".into()), ("".into(), "e".into())]
        );
    }

    #[test]
    fn serialises_with_length_and_without_for_204() {
        let r = Response::json(200, &serde_json::json!({"a": 1}));
        let bytes = String::from_utf8(r.to_bytes(true)).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(bytes.contains("content-length: 7\r\n"));
        assert!(bytes.contains("connection: close\r\n"));
        assert!(bytes.ends_with("\r\n\r\n{\"a\":1}"));
        let empty = String::from_utf8(Response::new(204).to_bytes(false)).unwrap();
        assert_eq!(empty, "HTTP/1.1 204 No Content\r\n\r\n");
    }
}
