//! Identifiers and timestamps the client fills in: UUID v4 request and event
//! ids, RFC 3339 UTC timestamps with milliseconds, and random numbers for jitter.

use std::time::{SystemTime, UNIX_EPOCH};

/// Random bytes from the operating system, drawn from a per-thread pool of
/// 1 KiB: one `getrandom` per 64 ids instead of one per id (two ids per
/// call; a system call every 32 calls, where 256 bytes made one every 8).
/// The pool is refilled in a child after a fork, so parent and child never
/// hand out the same bytes.
fn random_bytes<const N: usize>() -> [u8; N] {
    const POOL: usize = 1024;
    struct Pool {
        generation: u64,
        used: usize,
        bytes: [u8; POOL],
    }
    thread_local! {
        static POOL_OF_THREAD: std::cell::RefCell<Pool> = const {
            std::cell::RefCell::new(Pool { generation: 0, used: POOL, bytes: [0; POOL] })
        };
    }
    let generation = crate::process::generation();
    let mut out = [0u8; N];
    POOL_OF_THREAD.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.generation != generation || pool.used + N > POOL {
            os_random(&mut pool.bytes);
            pool.generation = generation;
            pool.used = 0;
        }
        let start = pool.used;
        out.copy_from_slice(&pool.bytes[start..start + N]);
        // Bytes handed out are wiped, so nothing reads them twice.
        pool.bytes[start..start + N].fill(0);
        pool.used += N;
    });
    out
}

fn os_random(bytes: &mut [u8]) {
    // The OS generator failing is not something a caller can act on; fall back
    // to time-derived bytes so an id is still unique enough for correlation.
    if getrandom::fill(bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            .to_le_bytes();
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = nanos[i % nanos.len()] ^ (i as u8).wrapping_mul(151);
        }
    }
}

/// A random `u64`, for backoff jitter.
pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
}

/// A random UUID version 4, lower-case hyphenated.
pub fn uuid_v4() -> String {
    let text = uuid_v4_text();
    // SAFETY: hex digits and hyphens only, all ASCII.
    unsafe { std::str::from_utf8_unchecked(&text) }.to_string()
}

/// [`uuid_v4`] as ASCII on the stack, for a writer that copies it anyway.
pub fn uuid_v4_text() -> [u8; 36] {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Written into an array, then one copy: this runs twice per call (a
    // `String::push` per character cost five times as much).
    // A byte's two digits at once.
    static DIGITS: [[u8; 2]; 256] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut table = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = [HEX[i >> 4], HEX[i & 0x0f]];
            i += 1;
        }
        table
    };
    // Where each byte's two digits go; the '-' are in place already.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut text = [b'-'; 36];
    for (&byte, at) in b.iter().zip(AT) {
        text[at..at + 2].copy_from_slice(&DIGITS[usize::from(byte)]);
    }
    text
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2021-08-09T14:09:20.859Z`.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_millis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC.
pub fn rfc3339_millis(epoch_ms: u64) -> String {
    let secs = epoch_ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    if !(0..=9999).contains(&year) {
        return format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60,
            epoch_ms % 1000
        );
    }
    // Digit by digit: this runs once per event.
    let mut text = String::with_capacity(24);
    let mut digits = |value: u64, width: u32, after: Option<char>| {
        for i in (0..width).rev() {
            let digit = (value / 10u64.pow(i)) % 10;
            text.push(char::from(b'0' + digit as u8));
        }
        if let Some(c) = after {
            text.push(c);
        }
    };
    digits(year as u64, 4, Some('-'));
    digits(u64::from(month), 2, Some('-'));
    digits(u64::from(day), 2, Some('T'));
    digits(rem / 3600, 2, Some(':'));
    digits((rem % 3600) / 60, 2, Some(':'));
    digits(rem % 60, 2, Some('.'));
    digits(epoch_ms % 1000, 3, Some('Z'));
    text
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_version_4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(uuid_v4(), id);
    }

    #[test]
    fn ids_from_the_pool_do_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(uuid_v4()));
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_forked_child_draws_other_ids_than_its_parent() {
        let _ = uuid_v4(); // the pool is filled before the fork
        let mut fds = [0; 2];
        // SAFETY: a pipe for the child's id; the child writes and exits.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            let id = uuid_v4();
            unsafe {
                libc::write(fds[1], id.as_ptr().cast(), id.len());
                libc::_exit(0);
            }
        }
        let mine = uuid_v4();
        let mut buf = [0u8; 36];
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        unsafe {
            libc::waitpid(child, std::ptr::null_mut(), 0);
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert_eq!(n, 36);
        assert_ne!(std::str::from_utf8(&buf).unwrap(), mine);
    }

    #[test]
    fn timestamps_match_known_dates() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_628_518_160_859),
            "2021-08-09T14:09:20.859Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
