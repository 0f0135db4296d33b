//! Host name resolution for the HTTP agent, in place of ureq's default, which
//! starts an OS thread for every attempt (even to `127.0.0.1` over a pooled
//! connection) and asks the system again on every call.
//!
//! - IP literals become addresses without any lookup.
//! - Config `resolve` (design.md §3.8) pins a host name to a socket address;
//!   TLS still verifies the name, because ureq takes the name from the URL.
//! - Other names are looked up once and cached: answers for [`ANSWER_TTL`],
//!   failures for [`FAILURE_TTL`]. At most one lookup per name is in flight;
//!   callers that arrive meanwhile wait for it, each no longer than its connect
//!   timeout. A lookup that outlives its callers finishes on its own and fills
//!   the cache for the next call.
//!
//! ureq asks the resolver before it looks in its pool, so a pooled connection
//! costs one cache hit here and no lookup.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a successful lookup is used.
pub const ANSWER_TTL: Duration = Duration::from_secs(60);
/// How long a failed lookup is remembered, so an outage does not become a
/// lookup per attempt, yet a name that starts resolving is seen soon.
pub const FAILURE_TTL: Duration = Duration::from_secs(3);
/// Names kept at most; a client talks to a handful (Edge, IMS, a proxy).
const MAX_CACHED_NAMES: usize = 64;
/// What ureq's address list holds.
const MAX_ADDRS: usize = 16;

type Lookup = Result<Vec<SocketAddr>, String>;

/// A lookup under way: its answer, once there, and a condvar for its waiters.
#[derive(Default)]
struct InFlight {
    answer: Mutex<Option<Lookup>>,
    done: Condvar,
}

enum Entry {
    Known { answer: Lookup, until: Instant },
    Pending(Arc<InFlight>),
}

/// The resolver of one client's agent. Clones share the cache.
#[derive(Clone)]
pub struct CachingResolver {
    pinned: HashMap<String, SocketAddr>,
    connect_timeout: Duration,
    cache: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingResolver")
            .field("pinned", &self.pinned)
            .finish_non_exhaustive()
    }
}

impl CachingResolver {
    /// `pinned`: host name (lower case) → address, from config `resolve`.
    pub fn new(pinned: HashMap<String, SocketAddr>, connect_timeout: Duration) -> CachingResolver {
        CachingResolver {
            pinned,
            connect_timeout,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The addresses for `host:port`, within `timeout`.
    pub fn addresses(&self, host: &str, port: u16, timeout: Duration) -> Lookup {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(addr) = self.pinned.get(&name) {
            return Ok(vec![*addr]);
        }
        let key = format!("{name}:{port}");
        let in_flight = {
            let mut cache = lock(&self.cache);
            let now = Instant::now();
            match cache.get(&key) {
                Some(Entry::Known { answer, until }) if *until > now => return answer.clone(),
                Some(Entry::Pending(in_flight)) => in_flight.clone(),
                _ => {
                    if cache.len() >= MAX_CACHED_NAMES {
                        cache.retain(|_, e| match e {
                            Entry::Known { until, .. } => *until > now,
                            Entry::Pending(_) => true,
                        });
                    }
                    let in_flight = Arc::new(InFlight::default());
                    cache.insert(key.clone(), Entry::Pending(in_flight.clone()));
                    self.start_lookup(key, in_flight.clone());
                    in_flight
                }
            }
        };
        wait_for(&in_flight, timeout)
    }

    /// One thread per lookup (not per attempt): `getaddrinfo` cannot be
    /// bounded in time, so it runs where nobody has to wait for it.
    fn start_lookup(&self, key: String, in_flight: Arc<InFlight>) {
        let cache = self.cache.clone();
        let name = key.clone();
        let waiters = in_flight.clone();
        let run = move || {
            let answer = lookup(&key);
            let ttl = if answer.is_ok() {
                ANSWER_TTL
            } else {
                FAILURE_TTL
            };
            lock(&cache).insert(
                key,
                Entry::Known {
                    answer: answer.clone(),
                    until: Instant::now() + ttl,
                },
            );
            *lock(&in_flight.answer) = Some(answer);
            in_flight.done.notify_all();
        };
        if let Err(e) = std::thread::Builder::new()
            .name("aep-edge-dns".into())
            .spawn(run)
        {
            // No thread to be had: answer the waiters with the failure and
            // let the next call try again.
            let why = format!("could not start a lookup: {e}");
            lock(&self.cache).remove(&name);
            *lock(&waiters.answer) = Some(Err(why));
            waiters.done.notify_all();
        }
    }
}

fn lookup(key: &str) -> Lookup {
    match key.to_socket_addrs() {
        Ok(found) => {
            let addrs: Vec<SocketAddr> = found.collect();
            if addrs.is_empty() {
                Err("no address".into())
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

fn wait_for(in_flight: &InFlight, timeout: Duration) -> Lookup {
    let deadline = Instant::now() + timeout;
    let mut answer = lock(&in_flight.answer);
    loop {
        if let Some(answer) = answer.as_ref() {
            return answer.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TIMED_OUT.into());
        }
        answer = in_flight
            .done
            .wait_timeout(answer, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// What [`CachingResolver::addresses`] says when the lookup outlived the timeout.
pub const TIMED_OUT: &str = "timed out";

/// A poisoned cache is still a valid cache: every write leaves it consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        "socks4" | "socks4a" | "socks5" | "socks5h" => Some(1080),
        _ => None,
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &AgentConfig,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri} is missing scheme")))?;
        let authority = uri
            .authority()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri} is missing host")))?;
        let port = authority
            .port_u16()
            .or_else(|| default_port(scheme))
            .ok_or_else(|| ureq::Error::BadUri(format!("unknown scheme: {scheme}")))?;
        // The lookup is part of connecting: bounded by the connect timeout
        // and by what is left of the attempt.
        let limit = if timeout.after.is_not_happening() {
            self.connect_timeout
        } else {
            (*timeout.after).min(self.connect_timeout)
        };
        let addrs = match self.addresses(authority.host(), port, limit) {
            Ok(addrs) => addrs,
            Err(why) if why == TIMED_OUT => return Err(ureq::Error::Timeout(timeout.reason)),
            Err(_) => return Err(ureq::Error::HostNotFound),
        };
        let mut result = self.empty();
        for addr in config
            .ip_family()
            .keep_wanted(addrs.into_iter())
            .take(MAX_ADDRS)
        {
            result.push(addr);
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> CachingResolver {
        let pinned = HashMap::from([("edge.test".to_string(), "127.0.0.1:9".parse().unwrap())]);
        CachingResolver::new(pinned, Duration::from_secs(5))
    }

    #[test]
    fn literals_and_pinned_names_need_no_lookup() {
        let r = resolver();
        let t = Duration::from_secs(1);
        assert_eq!(
            r.addresses("127.0.0.1", 80, t).unwrap(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
        assert_eq!(
            r.addresses("[::1]", 443, t).unwrap(),
            vec!["[::1]:443".parse().unwrap()]
        );
        // The pinned address wins over the URL's port; case and a trailing dot do not matter.
        assert_eq!(
            r.addresses("EDGE.test.", 443, t).unwrap(),
            vec!["127.0.0.1:9".parse().unwrap()]
        );
        assert!(lock(&r.cache).is_empty(), "nothing was looked up");
    }

    #[test]
    fn a_name_is_looked_up_once_and_cached() {
        let r = resolver();
        let first = r
            .addresses("localhost", 8080, Duration::from_secs(5))
            .unwrap();
        assert!(first
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080));
        assert!(matches!(
            lock(&r.cache).get("localhost:8080"),
            Some(Entry::Known { answer: Ok(_), .. })
        ));
        assert_eq!(
            r.addresses("localhost", 8080, Duration::ZERO).unwrap(),
            first
        );
    }

    #[test]
    fn a_lookup_under_way_is_joined_not_repeated() {
        let r = resolver();
        let in_flight = Arc::new(InFlight::default());
        lock(&r.cache).insert("slow.test:443".into(), Entry::Pending(in_flight.clone()));
        let started = Instant::now();
        let e = r.addresses("slow.test", 443, Duration::from_millis(50));
        assert_eq!(e, Err(TIMED_OUT.to_string()));
        assert!(started.elapsed() >= Duration::from_millis(50));
        *lock(&in_flight.answer) = Some(Ok(vec!["10.1.2.3:443".parse().unwrap()]));
        assert_eq!(
            r.addresses("slow.test", 443, Duration::from_secs(1))
                .unwrap(),
            vec!["10.1.2.3:443".parse().unwrap()]
        );
    }
}
