//! Sockets: the accept loop, one thread per connection, keep-alive, TLS, and the
//! connection-level faults (reset, truncation).
//!
//! A thread per connection keeps the code plain and serves any number of keep-alive
//! connections at once; the work per request is microseconds, so it is never the
//! bottleneck of a client benchmark.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::dispatch::{self, Outcome, Shared};
use crate::http::{self, ReadError};
use crate::record::RecordedRequest;
use crate::{problem, tls, Fault, Options};

/// A running emulator. Dropping it shuts it down like [`Emulator::shutdown`].
pub struct Emulator {
    shared: Arc<Shared>,
    connections: Arc<Connections>,
    addr: SocketAddr,
    https: bool,
    accept_thread: Option<JoinHandle<()>>,
}

/// Live connections, kept so shutdown can close them and join their threads.
#[derive(Default)]
struct Connections {
    next_id: AtomicU64,
    /// A second handle on each socket; shutting it down unblocks the thread's reads.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Emulator {
    /// Binds, starts the accept thread and returns once the port is listening.
    pub fn start(options: Options) -> io::Result<Emulator> {
        if options.default_hint.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "default_hint must not be empty",
            ));
        }
        let tls = options.tls.as_ref().map(tls::server_config).transpose()?;
        let https = tls.is_some();
        let listener = TcpListener::bind(SocketAddr::new(options.bind, options.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(options));
        let connections = Arc::new(Connections::default());
        let accept_thread = {
            let (shared, connections) = (shared.clone(), connections.clone());
            thread::Builder::new()
                .name("edge-emulator-accept".into())
                .spawn(move || accept_loop(listener, shared, connections, tls))?
        };
        Ok(Emulator {
            shared,
            connections,
            addr,
            https,
            accept_thread: Some(accept_thread),
        })
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, `https://...` with TLS, `http://[::1]:PORT` for IPv6.
    /// An unspecified bind address (0.0.0.0, ::) is given as its loopback.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", connectable(self.addr))
    }

    /// Every Edge and IMS request received, in arrival order (control requests excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// Queues a fault for the next matching Edge or IMS request(s).
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// Clears queued faults, recorded requests and issued tokens.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, closes open connections and joins every thread.
    pub fn shutdown(self) {
        // Drop does the work.
    }

    fn stop(&mut self) {
        let Some(accept_thread) = self.accept_thread.take() else {
            return;
        };
        self.shared.stop();
        // The accept thread is blocked in accept(); a connection wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&connectable(self.addr), Duration::from_secs(1));
        let _ = accept_thread.join();
        let sockets: Vec<TcpStream> = lock(&self.connections.sockets)
            .drain()
            .map(|(_, s)| s)
            .collect();
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.connections.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url())
            .finish()
    }
}

fn connectable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    connections: Arc<Connections>,
    tls: Option<Arc<ServerConfig>>,
) {
    for stream in listener.incoming() {
        if shared.is_stopping() {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                // Out of descriptors and the like: back off instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Each response leaves in one write; Nagle would only delay it.
        let _ = stream.set_nodelay(true);
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = connections.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&connections.sockets).insert(id, handle);
        let (shared2, connections2, tls2) = (shared.clone(), connections.clone(), tls.clone());
        let spawned = thread::Builder::new()
            .name("edge-emulator-conn".into())
            .spawn(move || {
                serve_connection(&shared2, stream, tls2);
                lock(&connections2.sockets).remove(&id);
            });
        let mut threads = lock(&connections.threads);
        threads.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => threads.push(t),
            Err(_) => {
                lock(&connections.sockets).remove(&id);
            }
        }
    }
}

/// A plain or TLS connection, read and written the same way.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Ends a connection politely: TLS close_notify, then FIN.
    fn close(&mut self) {
        if let Conn::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream, tls: Option<Arc<ServerConfig>>) {
    let conn = match tls {
        Some(config) => match ServerConnection::new(config) {
            Ok(server) => Conn::Tls(Box::new(StreamOwned::new(server, stream))),
            Err(_) => return,
        },
        None => Conn::Plain(stream),
    };
    let mut reader = BufReader::with_capacity(16 * 1024, conn);
    loop {
        let mut req = match http::read_head(&mut reader) {
            Ok(req) => req,
            Err(e) => return bad_request(reader.get_mut(), e),
        };
        if req.expects_continue()
            && reader
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .is_err()
        {
            return;
        }
        if let Err(e) = http::read_body(&mut reader, &mut req) {
            return bad_request(reader.get_mut(), e);
        }
        let close = req.wants_close() || shared.is_stopping();
        let head_only = req.method == "HEAD";
        let conn = reader.get_mut();
        match dispatch::answer(shared, &req) {
            Outcome::Respond(resp) => {
                let bytes = if head_only {
                    resp.head_bytes(resp.body.len(), close)
                } else {
                    resp.to_bytes(close)
                };
                if conn.write_all(&bytes).and_then(|_| conn.flush()).is_err() {
                    return;
                }
                if close {
                    return conn.close();
                }
            }
            Outcome::Reset => return reset(conn.tcp()),
            Outcome::Truncate(resp) => {
                let mut bytes = resp.head_bytes(resp.body.len(), true);
                bytes.extend_from_slice(&resp.body[..resp.body.len() / 2]);
                let _ = conn.write_all(&bytes).and_then(|_| conn.flush());
                // No close_notify: the connection is cut, not ended.
                let _ = conn.tcp().shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Answers bytes that are not a request we can serve, then closes.
fn bad_request(conn: &mut Conn, error: ReadError) {
    if let ReadError::Bad(status, message) = error {
        let resp = problem::generic(status, message, None);
        let _ = conn
            .write_all(&resp.to_bytes(true))
            .and_then(|_| conn.flush());
        conn.close();
    }
}

/// Sets SO_LINGER 0, so the close that follows (when the last handle on the socket is
/// dropped) sends RST instead of FIN: what a client sees when a server dies mid-request.
fn reset(stream: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid open socket descriptor and a correctly sized `linger` value.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    // Elsewhere an abrupt close is the closest std offers. (On unix no shutdown(): it
    // would send a FIN before the RST, and the client would see a clean EOF.)
    #[cfg(not(unix))]
    let _ = stream.shutdown(Shutdown::Both);
}
