//! The TCP transport of the agent for direct connections (no proxy), in
//! place of ureq's. Per request, ureq's costs 14 system calls on a pooled
//! connection: the headers and the body in two `send`s (two segments, and two
//! wake-ups of the server), socket timeouts set again on every call because
//! the time left changes by microseconds, and a liveness probe that switches
//! the socket to non-blocking and back. This one:
//!
//! - holds what ureq transmits until ureq waits for the answer, then sends the
//!   request in one write (the held bytes stay in the output buffer: ureq is
//!   handed the space after them, so nothing is copied);
//! - rounds socket timeouts down to 10 ms, so they are set again only when
//!   they really change (never later than the deadline: up to 10 ms early);
//! - probes liveness with one `recv(MSG_PEEK | MSG_DONTWAIT)`.
//!
//! Connections through a proxy keep ureq's own transports.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Weak};
use std::time::Duration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};
use ureq::{Error, Timeout};

/// Opens direct connections; leaves proxied ones to the connectors after it.
#[derive(Debug, Default)]
pub struct DirectTcpConnector;

impl<In: Transport> Connector<In> for DirectTcpConnector {
    type Out = Either<In, DirectTcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        if details.config.proxy().is_some() {
            return Ok(None);
        }
        let stream = connect(details)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let stream = Arc::new(stream);
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        let config = details.config;
        Ok(Some(Either::B(DirectTcp {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            held: 0,
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// Tries the resolved addresses in turn within the connect timeout.
fn connect(details: &ConnectionDetails) -> Result<TcpStream, Error> {
    let started = std::time::Instant::now();
    let budget = details.timeout.not_zero().map(|d| *d);
    let mut last = None;
    let count = details.addrs.len();
    for (i, addr) in details.addrs.iter().enumerate() {
        let attempt = match budget {
            Some(total) => {
                let left = total.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(Error::Timeout(details.timeout.reason));
                }
                // Half of what is left for each address but the last, so one
                // that never answers leaves time for the others.
                let share = if i + 1 < count { left / 2 } else { left };
                TcpStream::connect_timeout(addr, share.max(Duration::from_millis(10)))
            }
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            // A timeout, refused or unreachable: this address only; try the next.
            Err(e) => last = Some(e),
        }
    }
    if last.as_ref().is_some_and(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    }) {
        return Err(Error::Timeout(Timeout::Connect));
    }
    Err(last.map_or(Error::HostNotFound, Error::Io))
}

/// A direct connection that sends each request in one write.
pub struct DirectTcp {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    /// Bytes at the start of the output buffer transmitted by ureq, not sent yet.
    held: usize,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl std::fmt::Debug for DirectTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectTcp")
            .field("peer", &self.stream.peer_addr().ok())
            .field("held", &self.held)
            .finish()
    }
}

/// A socket timeout for what is left, rounded down to 10 ms so that it
/// changes (a system call) only every 10 ms of use, never past the deadline.
fn socket_timeout(timeout: &NextTimeout) -> Option<Duration> {
    let left = *timeout.not_zero()?;
    const GRID_MS: u128 = 10;
    if left.as_millis() < GRID_MS {
        return Some(left.max(Duration::from_millis(1)));
    }
    let ms = left.as_millis() / GRID_MS * GRID_MS;
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
}

/// Maps a socket error: a timeout is ureq's timeout for `reason`.
fn io_error(e: io::Error, reason: Timeout) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout(reason),
        _ => Error::Io(e),
    }
}

impl DirectTcp {
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        if self.held == 0 {
            return Ok(());
        }
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        let wanted = socket_timeout(&timeout);
        if wanted != self.write_timeout {
            self.stream.set_write_timeout(wanted)?;
            self.write_timeout = wanted;
        }
        let amount = std::mem::take(&mut self.held);
        let bytes = &self.buffers.output()[..amount];
        (&*self.stream)
            .write_all(bytes)
            .map_err(|e| io_error(e, timeout.reason))
    }
}

impl Transport for DirectTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.held += amount;
        // Leave ureq room to write into; a large body goes out in parts.
        if self.held >= self.buffers.output().len() / 2 {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush(timeout)?;
        if self.buffers.can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush(timeout)?;
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        let wanted = socket_timeout(&timeout);
        if wanted != self.read_timeout {
            self.stream.set_read_timeout(wanted)?;
            self.read_timeout = wanted;
        }
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match (&*self.stream).read(input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e, timeout.reason)),
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Open when nothing is waiting to be read and the peer has not closed.
    fn is_open(&mut self) -> bool {
        if self.held > 0 {
            return false;
        }
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            let mut byte = 0u8;
            // SAFETY: a one-byte buffer we own; the descriptor is open.
            let n = unsafe {
                libc::recv(
                    self.stream.as_raw_fd(),
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
        }
        #[cfg(not(unix))]
        {
            let _ = self.stream.set_nonblocking(true);
            let mut byte = [0u8];
            let open = matches!((&*self.stream).peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
            let _ = self.stream.set_nonblocking(false);
            open
        }
    }
}

/// The connection's buffers, with the output starting after the held bytes.
impl Buffers for DirectTcp {
    fn output(&mut self) -> &mut [u8] {
        let held = self.held;
        &mut self.buffers.output()[held..]
    }

    fn input(&self) -> &[u8] {
        self.buffers.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.buffers.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.buffers.input_appended(amount)
    }

    fn input_consume(&mut self, amount: usize) {
        self.buffers.input_consume(amount)
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let held = self.held;
        let (tmp, output) = self.buffers.tmp_and_output();
        (tmp, &mut output[held..])
    }

    fn can_use_input(&self) -> bool {
        self.buffers.can_use_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_round_down_to_10_ms() {
        let t = |ms: u64| NextTimeout {
            after: Duration::from_millis(ms).into(),
            ..NextTimeout::default()
        };
        assert_eq!(
            socket_timeout(&t(9_999)),
            Some(Duration::from_millis(9_990))
        );
        assert_eq!(socket_timeout(&t(10)), Some(Duration::from_millis(10)));
        assert_eq!(socket_timeout(&t(3)), Some(Duration::from_millis(3)));
        assert_eq!(socket_timeout(&NextTimeout::default()), None);
    }
}
