//! HTTP/1.1 for direct connections (no proxy): plain TCP to loopback, or TLS
//! through rustls, always verified. Proxied connections keep ureq
//! (`transport.rs`).
//!
//! Why our own: on a pooled loopback connection ureq's per-request machinery
//! (an `http::Request`, header maps, a copy of the agent config, the pool's
//! global lock, ureq-proto's state machine, a `http::Response`) cost about as
//! many instructions as everything else the client does. A call needs much
//! less: one POST with a body, one response read whole into memory. So:
//!
//! - the request (head and body) is written into the connection's own buffer
//!   and sent in one `write`;
//! - the response head is parsed in place by `httparse` (no header map); the
//!   body is framed by `Content-Length`, `chunked` or the end of the
//!   connection, and refused past `maxResponseBytes`;
//! - connections are pooled per client (`Mutex<Vec<_>>`, most recent first),
//!   keyed by scheme and authority; a connection goes back only after a whole
//!   response without `Connection: close`;
//! - a pooled connection is used without a liveness probe (a system call per
//!   call) unless it has been idle longer than [`PROBE_AFTER_IDLE`], when a
//!   server's keep-alive timeout may have closed it: then one
//!   `recv(MSG_PEEK | MSG_DONTWAIT)` tells (and a fresh one is opened). If a
//!   pooled connection fails before a single byte of response arrived (a
//!   reset or broken pipe on the write, an end of stream or reset on the first
//!   read), the request is sent once more on a fresh connection, unseen by
//!   the caller and not counted as an attempt: what libcurl and browsers do
//!   for a reused connection (RFC 9110 §9.2.2). Only for the failures a
//!   server's close of an idle connection gives: the write fails, or the
//!   first read finds the end of the stream (its FIN came first). A server
//!   that closes gracefully right after reading a request looks the same, so
//!   it may, rarely, see that request twice; the repeat carries the same body
//!   and so the same event `_id`s. A reset (RST) after the request went out
//!   is the call's failure, counted and retried by the retry table as
//!   before; so are timeouts, anything after a response byte, and anything
//!   on a fresh connection. At most once per call;
//! - one deadline per attempt; socket timeouts are what is left of it,
//!   rounded down to 10 ms so that they are set again only when they change.
//!
//! Failures are sorted into [`Failure`] as ureq's were: connect (refused,
//! timeout, DNS), TLS and certificates (at the handshake, done at connect),
//! read timeouts, resets and malformed heads, a body too large, a body cut
//! off or late after its status line.

use crate::resolver::{CachingResolver, TIMED_OUT};
use crate::response::{HeaderFacts, RawResponse};
use crate::transport::{classify_io, Failure, USER_AGENT};
use crate::visitor::FACT_HEADERS;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The most a response head may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers a response head may have.
const MAX_HEADERS: usize = 64;
/// What one read asks for.
const READ_CHUNK: usize = 16 * 1024;
/// A pooled connection idle longer than this is probed before it is used:
/// servers close idle keep-alive connections after a few seconds (nginx
/// 75 s, Node 5 s, some load balancers less), and a probe is cheaper than a
/// request that must be sent twice.
const PROBE_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The direct HTTP side of one client.
pub struct Direct {
    resolver: CachingResolver,
    connect_timeout: Duration,
    max_response_bytes: u64,
    max_idle: usize,
    roots: ureq::tls::RootCerts,
    /// Built at the first `https` connection (parsing the roots takes a while).
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    pool: Mutex<Vec<Conn>>,
}

/// A parsed `http://` or `https://` URL.
struct Target<'a> {
    https: bool,
    /// `host[:port]` as written, for `Host` and the pool key.
    authority: &'a str,
    /// Without brackets, for the lookup and the TLS server name.
    host: &'a str,
    port: u16,
    /// Path and query, at least `/`.
    path: &'a str,
}

fn parse_url(url: &str) -> Option<Target<'_>> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let close = bracketed.find(']')?;
        let port = bracketed[close + 1..].strip_prefix(':');
        (&bracketed[..close], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None if https => 443,
        None => 80,
    };
    if host.is_empty() || authority.contains('@') {
        return None;
    }
    Some(Target {
        https,
        authority,
        host,
        port,
        path,
    })
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One keep-alive connection with its buffers, reused call after call.
struct Conn {
    https: bool,
    authority: String,
    stream: Stream,
    /// The request being sent.
    out: Vec<u8>,
    /// Response bytes read but not used yet.
    input: Vec<u8>,
    /// What one read fills (zeroed once, not per read).
    chunk: Box<[u8]>,
    socket_timeout: Option<Duration>,
    /// When it went back into the pool.
    idle_since: Instant,
    /// The latest clock reading of its exchange (before its last read or
    /// write): when it goes back into the pool, no later than the truth, so
    /// the idle check errs towards probing.
    last_clock: Instant,
    /// Whether the current exchange has read any response byte.
    answered: bool,
    /// Whether the current exchange failed in a way that shows the server
    /// had closed the connection before it could answer: the write failed,
    /// or the first read found the end of the stream (a FIN, not a reset).
    closed_before_answer: bool,
}

impl Conn {
    /// Sets the socket timeouts to what is left before `deadline`, rounded
    /// down to 10 ms (never past the deadline); `None` once it has passed.
    fn time_left(&mut self, deadline: Instant) -> Option<()> {
        self.last_clock = Instant::now();
        let left = deadline.checked_duration_since(self.last_clock)?;
        if left.is_zero() {
            return None;
        }
        let wanted = Some(socket_timeout(left));
        if wanted != self.socket_timeout {
            let tcp = self.stream.tcp();
            if tcp.set_read_timeout(wanted).is_err() || tcp.set_write_timeout(wanted).is_err() {
                return None;
            }
            self.socket_timeout = wanted;
        }
        Some(())
    }

    /// Reads more into `input`; `Ok(0)` at the end of the stream.
    fn fill(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        self.time_left(deadline).ok_or(ReadError::Timeout)?;
        let result = loop {
            match self.stream.read(&mut self.chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match result {
            Ok(n) => {
                self.answered |= n > 0;
                self.input.extend_from_slice(&self.chunk[..n]);
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                Err(ReadError::Timeout)
            }
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// Open when the server has neither closed it nor sent anything unasked.
    fn is_open(&mut self) -> bool {
        if !self.input.is_empty() {
            return false;
        }
        match peek(self.stream.tcp()) {
            Peek::Nothing => true,
            Peek::Closed => false,
            // TLS: records after the response (session tickets) are no
            // data; read them without blocking to see what they are.
            Peek::Data => match &mut self.stream {
                Stream::Plain(_) => false,
                Stream::Tls(tls) => {
                    if tls.sock.set_nonblocking(true).is_err() {
                        return false;
                    }
                    let mut byte = [0u8; 1];
                    let open = matches!(tls.read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
                    open && tls.sock.set_nonblocking(false).is_ok()
                }
            },
        }
    }
}

enum Peek {
    Nothing,
    Data,
    Closed,
}

fn peek(tcp: &TcpStream) -> Peek {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer we own; the descriptor is open.
        let n = unsafe {
            libc::recv(
                tcp.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => Peek::Closed,
            n if n > 0 => Peek::Data,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock => Peek::Nothing,
            _ => Peek::Closed,
        }
    }
    #[cfg(not(unix))]
    {
        if tcp.set_nonblocking(true).is_err() {
            return Peek::Closed;
        }
        let mut byte = [0u8];
        let seen = match tcp.peek(&mut byte) {
            Ok(0) => Peek::Closed,
            Ok(_) => Peek::Data,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Peek::Nothing,
            Err(_) => Peek::Closed,
        };
        if tcp.set_nonblocking(false).is_err() {
            return Peek::Closed;
        }
        seen
    }
}

/// A socket timeout for what is left, rounded down to 10 ms so that it
/// changes (a system call) only every 10 ms of use, never past the deadline.
pub(crate) fn socket_timeout(left: Duration) -> Duration {
    const GRID_MS: u128 = 10;
    if left.as_millis() < GRID_MS {
        return left.max(Duration::from_millis(1));
    }
    let ms = left.as_millis() / GRID_MS * GRID_MS;
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

enum ReadError {
    Timeout,
    Io(io::Error),
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// What the head of a response says.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
    retry_after: Option<String>,
    region: Option<String>,
    facts: HeaderFacts,
}

/// Parses a complete head at the start of `input`; `Ok(None)`: more is needed.
fn parse_head(input: &[u8]) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD_BYTES => {
            return Err(malformed("the response head is over 64 KiB"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(malformed(&e.to_string())),
    };
    let status = response.code.unwrap_or_default();
    let mut keep_alive = response.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut head = Head {
        status,
        len,
        framing: Framing::Close,
        keep_alive: false,
        retry_after: None,
        region: None,
        facts: HeaderFacts::default(),
    };
    for h in response.headers.iter() {
        let name = h.name;
        let maybe = |known: &str| same_name(name, known);
        if maybe("content-length") {
            let value = std::str::from_utf8(h.value).ok().map(str::trim);
            let n = value
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| malformed("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if maybe("transfer-encoding") {
            let value = String::from_utf8_lossy(h.value);
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(malformed("a Transfer-Encoding other than chunked"));
            }
            chunked = true;
        } else if maybe("connection") {
            let value = String::from_utf8_lossy(h.value);
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                }
            }
        } else if let Some(fact) = FACT_HEADERS.iter().position(|f| maybe(f)) {
            let Some(text) = header_text(h.value) else {
                continue;
            };
            if FACT_HEADERS[fact] == "retry-after" {
                head.retry_after = Some(text.to_string());
            } else if FACT_HEADERS[fact] == "x-adobe-edge" {
                head.region = Some(text.to_string());
            }
            // The first of repeated headers.
            head.facts.keep_first(fact, text);
        }
    }
    head.framing = if matches!(status, 100..=199 | 204 | 304) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    head.keep_alive = keep_alive && head.framing != Framing::Close;
    Ok(Some(head))
}

/// Whether a header name is `known` (lower case), ignoring case. Most
/// names differ in length: no case-folding compare for those.
#[inline(always)]
fn same_name(name: &str, known: &str) -> bool {
    name.len() == known.len() && name.eq_ignore_ascii_case(known)
}

/// A header value as text: visible ASCII, spaces and tabs only (as
/// `http::HeaderValue::to_str`, which the ureq path used).
fn header_text(value: &[u8]) -> Option<&str> {
    // A fold, not `all`: no early exit, so the compiler checks many bytes at once.
    let visible = value.iter().fold(true, |ok, &b| {
        ok & ((b == b'\t') | (b.wrapping_sub(b' ') < 0x5F))
    });
    if !visible {
        return None;
    }
    // SAFETY: ASCII only, checked above.
    Some(unsafe { std::str::from_utf8_unchecked(value) })
}

fn malformed(what: &str) -> Failure {
    Failure::Reset(format!("malformed HTTP response: {what}"))
}

impl Direct {
    pub fn new(
        resolver: CachingResolver,
        roots: ureq::tls::RootCerts,
        connect_timeout: Duration,
        max_response_bytes: u64,
        max_idle: usize,
    ) -> Direct {
        Direct {
            resolver,
            connect_timeout,
            max_response_bytes,
            max_idle,
            roots,
            tls: OnceLock::new(),
            pool: Mutex::new(Vec::new()),
        }
    }

    /// POSTs `body` to `url` and reads the whole response within `timeout`.
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<RawResponse, Failure> {
        let now = Instant::now();
        let deadline = crate::lifecycle::later(now, timeout);
        let target = parse_url(url).ok_or_else(|| Failure::Other(format!("bad URL {url}")))?;
        for (name, value) in headers {
            if !is_token(name) || value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(Failure::Other(format!(
                    "the header {name} holds a character HTTP does not allow"
                )));
            }
        }
        let (mut conn, reused) = match self.pooled(&target, now) {
            Some(conn) => (conn, true),
            None => (self.connect(&target, deadline)?, false),
        };
        write_request(&mut conn.out, &target, content_type, headers, body);
        let (response, keep_alive) = match self.exchange(&mut conn, deadline) {
            Ok(done) => done,
            // The server closed the idle connection as the request went out
            // (module docs): once more on a fresh one.
            Err(Failure::Reset(_)) if reused && conn.closed_before_answer => {
                let mut fresh = self.connect(&target, deadline)?;
                std::mem::swap(&mut fresh.out, &mut conn.out);
                drop(conn);
                conn = fresh;
                self.exchange(&mut conn, deadline)?
            }
            Err(failure) => return Err(failure),
        };
        if keep_alive {
            self.give_back(conn);
        }
        Ok(response)
    }

    fn lock_pool(&self) -> MutexGuard<'_, Vec<Conn>> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recent idle connection to `target`, probed when it has been
    /// idle long enough that the server may have closed it.
    fn pooled(&self, target: &Target<'_>, now: Instant) -> Option<Conn> {
        loop {
            let mut conn = {
                let mut pool = self.lock_pool();
                let i = pool
                    .iter()
                    .rposition(|c| c.https == target.https && c.authority == target.authority)?;
                // Usually the last: taken without a shift of the others.
                if i + 1 == pool.len() {
                    pool.pop()?
                } else {
                    pool.remove(i)
                }
            };
            let fresh_enough = now.saturating_duration_since(conn.idle_since) <= PROBE_AFTER_IDLE;
            if fresh_enough || conn.is_open() {
                return Some(conn);
            }
            // Closed by the server while idle: dropped, look for another.
        }
    }

    fn give_back(&self, mut conn: Conn) {
        // No clock read of its own: the exchange's last one.
        conn.idle_since = conn.last_clock;
        let mut pool = self.lock_pool();
        if pool.len() >= self.max_idle {
            pool.remove(0);
        }
        pool.push(conn);
    }

    fn connect(&self, target: &Target<'_>, deadline: Instant) -> Result<Conn, Failure> {
        let left = deadline.saturating_duration_since(Instant::now());
        let budget = left.min(self.connect_timeout);
        if budget.is_zero() {
            return Err(Failure::ConnectTimeout);
        }
        let connect_by = Instant::now() + budget;
        let addrs = match self.resolver.addresses(target.host, target.port, budget) {
            Ok(addrs) => addrs,
            Err(why) if why == TIMED_OUT => return Err(Failure::ConnectTimeout),
            Err(why) => return Err(Failure::Dns(why)),
        };
        let tcp = connect_tcp(&addrs, connect_by)?;
        tcp.set_nodelay(true)
            .map_err(|e| Failure::Connect(e.to_string()))?;
        let stream = if target.https {
            Stream::Tls(Box::new(self.handshake(tcp, target.host, connect_by)?))
        } else {
            Stream::Plain(tcp)
        };
        Ok(Conn {
            https: target.https,
            authority: target.authority.to_string(),
            stream,
            out: Vec::with_capacity(4096),
            input: Vec::with_capacity(READ_CHUNK),
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
            socket_timeout: None,
            idle_since: Instant::now(),
            last_clock: Instant::now(),
            answered: false,
            closed_before_answer: false,
        })
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, Failure> {
        self.tls
            .get_or_init(|| tls_config(&self.roots))
            .clone()
            .map_err(Failure::Tls)
    }

    /// The TLS handshake, within the connect timeout.
    fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        connect_by: Instant,
    ) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, Failure> {
        let config = self.tls_config()?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| Failure::Tls(format!("{host} is not a TLS server name: {e}")))?;
        let mut session =
            rustls::ClientConnection::new(config, name).map_err(|e| Failure::Tls(e.to_string()))?;
        let mut tcp = tcp;
        while session.is_handshaking() {
            let left = connect_by.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::ConnectTimeout);
            }
            let t = Some(socket_timeout(left));
            tcp.set_read_timeout(t)
                .and_then(|()| tcp.set_write_timeout(t))
                .map_err(|e| Failure::Connect(e.to_string()))?;
            match session.complete_io(&mut tcp) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    return Err(Failure::ConnectTimeout)
                }
                Err(e) => {
                    return Err(match classify_io(e) {
                        // A peer that hangs up mid-handshake is a TLS failure.
                        Failure::Reset(m) => Failure::Tls(m),
                        other => other,
                    });
                }
            }
        }
        Ok(rustls::StreamOwned::new(session, tcp))
    }

    /// Sends the request in `conn.out` and reads the response. The bool:
    /// whether the connection may serve another request.
    fn exchange(&self, conn: &mut Conn, deadline: Instant) -> Result<(RawResponse, bool), Failure> {
        conn.answered = false;
        conn.closed_before_answer = false;
        conn.time_left(deadline).ok_or(Failure::ReadTimeout)?;
        let sent = conn
            .stream
            .write_all(&conn.out)
            .and_then(|()| conn.stream.flush());
        if let Err(e) = sent {
            let failure = classify_io(e);
            conn.closed_before_answer = matches!(failure, Failure::Reset(_));
            return Err(failure);
        }
        conn.input.clear();
        let head = loop {
            // Nothing to parse before the first read.
            let parsed = match conn.input.is_empty() {
                true => None,
                false => parse_head(&conn.input)?,
            };
            if let Some(head) = parsed {
                if (100..200).contains(&head.status) {
                    // An interim response: the real one follows.
                    conn.input.drain(..head.len);
                    continue;
                }
                break head;
            }
            match conn.fill(deadline) {
                Ok(0) if conn.input.is_empty() => {
                    conn.closed_before_answer = !conn.answered;
                    return Err(Failure::Reset(
                        "the server closed the connection without answering".into(),
                    ));
                }
                Ok(0) => return Err(malformed("the connection closed inside the head")),
                Ok(_) => {}
                Err(ReadError::Timeout) => return Err(Failure::ReadTimeout),
                Err(ReadError::Io(e)) => {
                    // TLS: a FIN without close_notify.
                    conn.closed_before_answer =
                        !conn.answered && e.kind() == io::ErrorKind::UnexpectedEof;
                    return Err(classify_io(e));
                }
            }
        };
        let status = head.status;
        let cut = |e: BodyError| match e {
            BodyError::TooLarge => Failure::TooLarge(self.max_response_bytes),
            BodyError::Timeout => Failure::CutBody {
                status,
                timed_out: true,
                detail: Failure::ReadTimeout.describe(),
            },
            BodyError::Cut(detail) => Failure::CutBody {
                status,
                timed_out: false,
                detail,
            },
        };
        let body = match head.framing {
            // The head stays in front: the body is copied once, from behind it.
            Framing::Length(n) => self.read_length(conn, head.len, n, deadline),
            Framing::Chunked => {
                conn.input.drain(..head.len);
                self.read_chunked(conn, deadline)
            }
            Framing::Close => {
                conn.input.drain(..head.len);
                self.read_to_close(conn, deadline)
            }
        }
        .map_err(cut)?;
        // Bytes past the response: the connection is out of step.
        let keep_alive = head.keep_alive && conn.input.is_empty();
        Ok((
            RawResponse {
                status,
                body,
                retry_after: head.retry_after,
                region: head.region,
                facts: head.facts,
            },
            keep_alive,
        ))
    }

    /// The `n` bytes of body after the `from` bytes of head in `input`.
    fn read_length(
        &self,
        conn: &mut Conn,
        from: usize,
        n: u64,
        deadline: Instant,
    ) -> Result<Vec<u8>, BodyError> {
        if n > self.max_response_bytes {
            return Err(BodyError::TooLarge);
        }
        let end = from + n as usize;
        while conn.input.len() < end {
            more(conn, deadline)?;
        }
        let body = conn.input[from..end].to_vec();
        if conn.input.len() == end {
            conn.input.clear(); // the usual case: nothing read past it
        } else {
            conn.input.drain(..end);
        }
        Ok(body)
    }

    fn read_to_close(&self, conn: &mut Conn, deadline: Instant) -> Result<Vec<u8>, BodyError> {
        loop {
            if conn.input.len() as u64 > self.max_response_bytes {
                return Err(BodyError::TooLarge);
            }
            match conn.fill(deadline) {
                Ok(0) => return Ok(std::mem::take(&mut conn.input)),
                Ok(_) => {}
                Err(e) => return Err(body_error(e)),
            }
        }
    }

    fn read_chunked(&self, conn: &mut Conn, deadline: Instant) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let (consumed, size) = loop {
                match httparse::parse_chunk_size(&conn.input[pos..]) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) => more(conn, deadline)?,
                    Err(_) => return Err(BodyError::Cut("a malformed chunk size".into())),
                }
            };
            pos += consumed;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                loop {
                    let rest = &conn.input[pos..];
                    if let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
                        pos += end + 2;
                        if end == 0 {
                            conn.input.drain(..pos);
                            return Ok(body);
                        }
                    } else if rest.len() > MAX_HEAD_BYTES {
                        return Err(BodyError::Cut("trailers over 64 KiB".into()));
                    } else {
                        more(conn, deadline)?;
                    }
                }
            }
            if (body.len() as u64).saturating_add(size) > self.max_response_bytes {
                return Err(BodyError::TooLarge);
            }
            let size = size as usize;
            while conn.input.len() < pos + size + 2 {
                more(conn, deadline)?;
            }
            if &conn.input[pos + size..pos + size + 2] != b"\r\n" {
                return Err(BodyError::Cut("a chunk without its CRLF".into()));
            }
            body.extend_from_slice(&conn.input[pos..pos + size]);
            pos += size + 2;
            // Keep the buffer short: drop what was taken.
            if pos > READ_CHUNK {
                conn.input.drain(..pos);
                pos = 0;
            }
        }
    }
}

enum BodyError {
    TooLarge,
    Timeout,
    Cut(String),
}

fn body_error(e: ReadError) -> BodyError {
    match e {
        ReadError::Timeout => BodyError::Timeout,
        ReadError::Io(e) => BodyError::Cut(classify_io(e).describe()),
    }
}

/// Reads more of a body; the end of the stream here cuts it off.
fn more(conn: &mut Conn, deadline: Instant) -> Result<(), BodyError> {
    match conn.fill(deadline) {
        Ok(0) => Err(BodyError::Cut(
            "the connection closed before the body was complete".into(),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(body_error(e)),
    }
}

/// An HTTP token (a header name).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The whole request, head and body, into `out` (cleared first). The
/// caller's `User-Agent` and `Accept`, if given, replace the client's.
/// `user-agent` ([`USER_AGENT`]) and `accept`, up to `content-type`'s value:
/// what a request whose caller set neither carries after `host`.
const DEFAULT_HEADERS: &str = concat!(
    "\r\nuser-agent: ",
    crate::transport::user_agent!(),
    "\r\naccept: application/json\r\ncontent-type: "
);

fn write_request(
    out: &mut Vec<u8>,
    target: &Target<'_>,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    out.clear();
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    out.extend_from_slice(b"POST ");
    if !target.path.starts_with('/') {
        out.push(b'/');
    }
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(target.authority.as_bytes());
    match (has("user-agent"), has("accept")) {
        // The usual call: its fixed headers in one copy.
        (false, false) => out.extend_from_slice(DEFAULT_HEADERS.as_bytes()),
        (has_user_agent, has_accept) => {
            if !has_user_agent {
                out.extend_from_slice(b"\r\nuser-agent: ");
                out.extend_from_slice(USER_AGENT.as_bytes());
            }
            if !has_accept {
                out.extend_from_slice(b"\r\naccept: application/json");
            }
            out.extend_from_slice(b"\r\ncontent-type: ");
        }
    }
    out.extend_from_slice(content_type.as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"\r\ncontent-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// Tries the addresses in turn until `connect_by`.
fn connect_tcp(addrs: &[SocketAddr], connect_by: Instant) -> Result<TcpStream, Failure> {
    let mut last: Option<io::Error> = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = connect_by.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::ConnectTimeout);
        }
        // Half of what is left for each address but the last, so one that
        // never answers leaves time for the others.
        let share = if i + 1 < addrs.len() { left / 2 } else { left };
        match TcpStream::connect_timeout(addr, share.max(Duration::from_millis(10))) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Err(Failure::ConnectTimeout)
        }
        Some(e) => Err(Failure::Connect(e.to_string())),
        None => Err(Failure::Dns("no address".into())),
    }
}

/// rustls with the client's roots, as ureq configured it: TLS 1.2 and 1.3,
/// SNI, verification always on.
fn tls_config(roots: &ureq::tls::RootCerts) -> Result<Arc<rustls::ClientConfig>, String> {
    use ureq::tls::RootCerts;
    let mut store = rustls::RootCertStore::empty();
    match roots {
        RootCerts::Specific(certs) => {
            let ders = certs
                .iter()
                .map(|c| rustls::pki_types::CertificateDer::from(c.der().to_vec()));
            store.add_parsable_certificates(ders);
        }
        RootCerts::WebPki => store.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        _ => return Err("no root certificates to verify the server with".into()),
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    //! Over real loopback sockets, against a scripted server thread.
    use super::*;
    use std::collections::HashMap;
    use std::net::TcpListener;
    use std::thread;

    enum Step {
        /// Reads one request, then writes these pieces one by one.
        Answer(Vec<Vec<u8>>),
        /// Reads until the client closes the connection.
        Hold,
        /// Closes the connection.
        Close,
        /// Reads one request, then resets the connection (RST: linger 0).
        Reset,
    }

    struct Server {
        addr: SocketAddr,
        accepted: thread::JoinHandle<Vec<Vec<u8>>>,
    }

    /// A server that runs `scripts[i]` on its i-th connection and returns
    /// the requests it read.
    fn server(scripts: Vec<Vec<Step>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = thread::spawn(move || {
            let mut requests = Vec::new();
            for script in scripts {
                let (mut s, _) = listener.accept().unwrap();
                s.set_nodelay(true).unwrap();
                for step in script {
                    match step {
                        Step::Close => break,
                        Step::Reset => {
                            requests.push(read_request(&mut s));
                            reset(&s);
                            break;
                        }
                        Step::Answer(pieces) => {
                            requests.push(read_request(&mut s));
                            for piece in pieces {
                                s.write_all(&piece).unwrap();
                                s.flush().unwrap();
                            }
                        }
                        Step::Hold => {
                            let mut rest = Vec::new();
                            let _ = s.read_to_end(&mut rest);
                        }
                    }
                }
            }
            requests
        });
        Server { addr, accepted }
    }

    fn reset(s: &TcpStream) {
        use std::os::unix::io::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: an open socket and a `linger` of the right size.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
    }

    /// A request with a Content-Length body.
    fn read_request(s: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).unwrap(), 1, "the request head is whole");
            got.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
        let len: usize = head
            .split("content-length: ")
            .nth(1)
            .and_then(|r| r.split("\r\n").next())
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        s.read_exact(&mut body).unwrap();
        got.extend_from_slice(&body);
        got
    }

    fn direct(max_response_bytes: u64) -> Direct {
        let resolver = CachingResolver::new(HashMap::new(), Duration::from_secs(2));
        Direct::new(
            resolver,
            ureq::tls::RootCerts::WebPki,
            Duration::from_secs(2),
            max_response_bytes,
            4,
        )
    }

    fn post(d: &Direct, addr: SocketAddr, timeout_ms: u64) -> Result<RawResponse, Failure> {
        d.post(
            &format!("http://{addr}/ee/v2/interact?x=1"),
            "application/json",
            &[("x-api-key", "k")],
            br#"{"event":{}}"#,
            Duration::from_millis(timeout_ms),
        )
    }

    fn answer(extra_headers: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn content_length_bodies_on_one_kept_connection() {
        let s = server(vec![vec![
            Step::Answer(vec![answer(
                "x-adobe-edge: or2;35\r\nRetry-After: 3\r\n",
                "{\"a\":1}",
            )]),
            Step::Answer(vec![answer("", "{}")]),
        ]]);
        let d = direct(1 << 20);
        let first = post(&d, s.addr, 2000).unwrap();
        assert_eq!(
            (first.status, first.body.as_slice()),
            (200, &b"{\"a\":1}"[..])
        );
        assert_eq!(first.region.as_deref(), Some("or2;35"));
        assert_eq!(first.retry_after.as_deref(), Some("3"));
        assert_eq!(
            first.facts.iter().collect::<Vec<_>>(),
            vec![("retry-after", "3"), ("x-adobe-edge", "or2;35")]
        );
        assert_eq!(post(&d, s.addr, 2000).unwrap().body, b"{}");
        // The server ran one connection only: the second call reused it.
        let requests = s.accepted.join().unwrap();
        let text = String::from_utf8(requests[0].clone()).unwrap();
        assert!(
            text.starts_with("POST /ee/v2/interact?x=1 HTTP/1.1\r\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("\r\nhost: {}\r\n", s.addr)),
            "{text}"
        );
        assert!(text.contains("\r\nx-api-key: k\r\n"), "{text}");
        assert!(
            text.ends_with("\r\ncontent-length: 12\r\n\r\n{\"event\":{}}"),
            "{text}"
        );
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let s = server(vec![vec![
            Step::Answer(vec![
                head.clone(),
                b"4\r\n{\"a\"\r\n3;ext=1\r\n:12\r\n1\r\n}\r\n0\r\nx-trailer: y\r\n\r\n".to_vec(),
            ]),
            Step::Answer(vec![head, b"2\r\n{}\r\n0\r\n\r\n".to_vec()]),
        ]]);
        let d = direct(1 << 20);
        assert_eq!(post(&d, s.addr, 2000).unwrap().body, b"{\"a\":12}");
        assert_eq!(post(&d, s.addr, 2000).unwrap().body, b"{}");
        assert_eq!(s.accepted.join().unwrap().len(), 2);
    }

    #[test]
    fn a_response_in_many_small_writes() {
        let whole = answer(
            "x-request-id: r-1\r\n",
            &format!("{{\"pad\":\"{}\"}}", "p".repeat(3000)),
        );
        let pieces: Vec<Vec<u8>> = whole.chunks(7).map(<[u8]>::to_vec).collect();
        let s = server(vec![vec![Step::Answer(pieces)]]);
        let got = post(&direct(1 << 20), s.addr, 5000).unwrap();
        assert_eq!(got.body.len(), 3010);
        assert_eq!(
            got.facts.iter().collect::<Vec<_>>(),
            vec![("x-request-id", "r-1")]
        );
        s.accepted.join().unwrap();
    }

    #[test]
    fn bodies_over_the_cap_are_refused() {
        let big = "b".repeat(100);
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{}\r\n40\r\n{}\r\n0\r\n\r\n",
            "c".repeat(64),
            "c".repeat(64)
        );
        let s = server(vec![
            vec![Step::Answer(vec![answer("", &big)])],
            vec![Step::Answer(vec![chunked.into_bytes()])],
            vec![Step::Answer(vec![format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{big}"
            )
            .into_bytes()])],
            // A chunk size near u64::MAX must not overflow the count.
            vec![Step::Answer(vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\nffffffffffffffff\r\n".to_vec()])],
        ]);
        let d = direct(64);
        for _ in 0..4 {
            assert_eq!(post(&d, s.addr, 2000).unwrap_err(), Failure::TooLarge(64));
        }
        s.accepted.join().unwrap();
    }

    #[test]
    fn a_pooled_connection_the_server_closed_is_replaced_unseen() {
        let s = server(vec![
            vec![Step::Answer(vec![answer("", "{}")]), Step::Close],
            vec![Step::Answer(vec![answer("", "{\"second\":1}")])],
        ]);
        let d = direct(1 << 20);
        assert_eq!(post(&d, s.addr, 2000).unwrap().body, b"{}");
        // Wait until the server's FIN is in: the pool must see it.
        thread::sleep(Duration::from_millis(100));
        assert_eq!(post(&d, s.addr, 2000).unwrap().body, b"{\"second\":1}");
        assert_eq!(s.accepted.join().unwrap().len(), 2);
    }

    #[test]
    fn a_request_a_pooled_connection_dropped_unanswered_is_sent_once_more() {
        let s = server(vec![
            // Reads the second request and closes without a byte of answer.
            vec![
                Step::Answer(vec![answer("", "{}")]),
                Step::Answer(vec![]),
                Step::Close,
            ],
            vec![Step::Answer(vec![answer("", "{\"again\":1}")])],
        ]);
        let d = direct(1 << 20);
        post(&d, s.addr, 2000).unwrap();
        assert_eq!(post(&d, s.addr, 2000).unwrap().body, b"{\"again\":1}");
        // The server read the second request twice: once dropped, once answered.
        let requests = s.accepted.join().unwrap();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[1], requests[2]);
    }

    #[test]
    fn the_repeat_is_sent_once_and_never_after_a_response_byte() {
        let s = server(vec![
            vec![
                Step::Answer(vec![answer("", "{}")]),
                Step::Answer(vec![]),
                Step::Close,
            ],
            // The fresh connection drops it too: that is the caller's failure.
            vec![Step::Answer(vec![]), Step::Close],
            vec![
                Step::Answer(vec![answer("", "{}")]),
                // A head begun, then the end: the server had the request.
                Step::Answer(vec![b"HTTP/1.1 200".to_vec()]),
                Step::Close,
            ],
        ]);
        let d = direct(1 << 20);
        post(&d, s.addr, 2000).unwrap();
        let e = post(&d, s.addr, 2000).unwrap_err();
        assert!(
            matches!(&e, Failure::Reset(m) if m.contains("without answering")),
            "{e:?}"
        );
        post(&d, s.addr, 2000).unwrap();
        let e = post(&d, s.addr, 2000).unwrap_err();
        assert!(
            matches!(&e, Failure::Reset(m) if m.contains("malformed")),
            "{e:?}"
        );
        // 2 + 1 on the first two connections, 2 on the third: no more.
        assert_eq!(s.accepted.join().unwrap().len(), 5);
    }

    #[test]
    fn a_reset_after_the_request_is_the_calls_failure_not_sent_again() {
        let s = server(vec![
            vec![Step::Answer(vec![answer("", "{}")]), Step::Reset],
            vec![Step::Answer(vec![answer("", "{}")])],
        ]);
        let d = direct(1 << 20);
        post(&d, s.addr, 2000).unwrap();
        let e = post(&d, s.addr, 2000).unwrap_err();
        assert!(matches!(e, Failure::Reset(_)), "{e:?}");
        // The next call opens the second connection: the reset one is gone.
        post(&d, s.addr, 2000).unwrap();
        assert_eq!(s.accepted.join().unwrap().len(), 3);
    }

    #[test]
    fn connection_close_is_not_pooled() {
        let s = server(vec![
            // The server keeps this socket open: only the header says close.
            vec![
                Step::Answer(vec![answer("Connection: close\r\n", "{}")]),
                Step::Hold,
            ],
            vec![Step::Answer(vec![answer("", "{}")])],
        ]);
        let d = direct(1 << 20);
        post(&d, s.addr, 2000).unwrap();
        assert!(d.lock_pool().is_empty());
        post(&d, s.addr, 2000).unwrap();
        assert_eq!(d.lock_pool().len(), 1);
        assert_eq!(s.accepted.join().unwrap().len(), 2);
    }

    #[test]
    fn read_timeouts_before_and_after_the_status_line() {
        let s = server(vec![
            // Silent until the client gives up and closes.
            vec![Step::Answer(vec![]), Step::Hold],
            vec![
                Step::Answer(vec![
                    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"".to_vec()
                ]),
                Step::Hold,
            ],
        ]);
        let d = direct(1 << 20);
        let started = Instant::now();
        assert_eq!(post(&d, s.addr, 150).unwrap_err(), Failure::ReadTimeout);
        assert!(started.elapsed() < Duration::from_millis(550));
        // The second connection answers the head, then stalls in the body
        // (the first one, timed out, is not pooled).
        let e = post(&d, s.addr, 150).unwrap_err();
        assert!(
            matches!(
                e,
                Failure::CutBody {
                    status: 200,
                    timed_out: true,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(s.accepted.join().unwrap().len(), 2);
    }

    #[test]
    fn a_body_cut_off_and_a_silent_close() {
        let s = server(vec![
            vec![
                Step::Answer(vec![
                    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"".to_vec()
                ]),
                Step::Close,
            ],
            vec![Step::Answer(vec![]), Step::Close],
            vec![Step::Answer(vec![
                b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n".to_vec(),
            ])],
        ]);
        let d = direct(1 << 20);
        let e = post(&d, s.addr, 2000).unwrap_err();
        assert!(
            matches!(
                e,
                Failure::CutBody {
                    status: 200,
                    timed_out: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(matches!(
            post(&d, s.addr, 2000).unwrap_err(),
            Failure::Reset(_)
        ));
        let e = post(&d, s.addr, 2000).unwrap_err();
        assert!(
            matches!(&e, Failure::Reset(m) if m.contains("malformed")),
            "{e:?}"
        );
        s.accepted.join().unwrap();
    }

    #[test]
    fn requests_with_and_without_the_default_headers() {
        let target = parse_url("http://127.0.0.1:1/ee/v2/interact?x=1").unwrap();
        let mut out = Vec::new();
        write_request(&mut out, &target, "application/json", &[], b"{}");
        let expected = format!(
            "POST /ee/v2/interact?x=1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\nuser-agent: {USER_AGENT}\r\naccept: application/json\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
        );
        assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
        write_request(&mut out, &target, "text/plain", &[("Accept", "*/*")], b"");
        let expected = format!(
            "POST /ee/v2/interact?x=1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\nuser-agent: {USER_AGENT}\r\ncontent-type: text/plain\r\nAccept: */*\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn urls_are_split() {
        let t = parse_url("https://[::1]:8443/ee/v2/x?a=b#frag").unwrap();
        assert_eq!(
            (t.https, t.authority, t.host, t.port, t.path),
            (true, "[::1]:8443", "::1", 8443, "/ee/v2/x?a=b")
        );
        let t = parse_url("http://localhost?q").unwrap();
        assert_eq!((t.host, t.port, t.path), ("localhost", 80, "?q"));
        assert!(parse_url("ftp://x/").is_none());
        assert!(parse_url("http://user@host/").is_none());
        assert!(parse_url("http://host:port/").is_none());
    }

    #[test]
    fn socket_timeouts_round_down_to_10_ms() {
        let ms = Duration::from_millis;
        assert_eq!(socket_timeout(ms(9_999)), ms(9_990));
        assert_eq!(socket_timeout(ms(10)), ms(10));
        assert_eq!(socket_timeout(ms(3)), ms(3));
        assert_eq!(socket_timeout(Duration::from_micros(10)), ms(1));
    }
}
