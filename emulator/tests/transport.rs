//! The HTTP layer: keep-alive, pipelining, chunked bodies, Expect, concurrency, HTTPS,
//! IPv6 and shutdown.

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use aep_edge_emulator::{Emulator, Fault, Options, TlsIdentity};
use common::*;

fn interact_path() -> String {
    format!("/ee/v2/interact?dataStreamId={DS}")
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let emu = start(Options::default());
    let mut conn = connect(emu.addr());
    for i in 0..5 {
        send(
            &mut conn,
            &raw_post(&interact_path(), EVENT, &format!("x-request-id: r{i}\r\n")),
        );
        let r = read_response(&mut conn).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(body["requestId"]
            .as_str()
            .unwrap()
            .starts_with(&format!("r{i}-")));
    }
    assert_eq!(emu.requests().len(), 5);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let emu = start(Options::default());
    let mut conn = connect(emu.addr());
    let mut both = raw_post(&interact_path(), EVENT, "x-request-id: first\r\n");
    both.extend(raw_post(&interact_path(), "", "x-request-id: second\r\n"));
    send(&mut conn, &both);
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
    assert_eq!(read_response(&mut conn).unwrap().status, 408);
}

#[test]
fn connection_close_is_honoured() {
    let emu = start(Options::default());
    let mut conn = connect(emu.addr());
    send(
        &mut conn,
        &raw_post(&interact_path(), EVENT, "Connection: close\r\n"),
    );
    let r = read_response(&mut conn).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(conn.read_to_end(&mut rest).unwrap(), 0, "then EOF");

    // HTTP/1.0 closes unless asked to keep alive.
    let mut conn = connect(emu.addr());
    send(&mut conn, b"GET /__emulator/health HTTP/1.0\r\n\r\n");
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
    assert_eq!(conn.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn chunked_request_body() {
    let emu = start(lenient());
    let mut conn = connect(emu.addr());
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"eve\r\n7\r\nnt\":{{}}}}\r\n0\r\n\r\n",
        interact_path()
    );
    send(&mut conn, req.as_bytes());
    let r = read_response(&mut conn).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(emu.requests()[0].body, br#"{"event":{}}"#);
    // The connection is still usable afterwards.
    send(&mut conn, &raw_post(&interact_path(), EVENT, ""));
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
}

#[test]
fn expect_100_continue() {
    let emu = start(Options::default());
    let mut conn = connect(emu.addr());
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        interact_path(),
        EVENT.len()
    );
    send(&mut conn, head.as_bytes());
    let interim = read_response(&mut conn).unwrap();
    assert_eq!(interim.status, 100);
    send(&mut conn, EVENT.as_bytes());
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
}

#[test]
fn garbage_gets_400_and_close() {
    let emu = start(Options::default());
    let mut conn = connect(emu.addr());
    send(&mut conn, b"NOT HTTP AT ALL\r\n\r\n");
    let r = read_response(&mut conn).unwrap();
    assert_eq!(r.status, 400);
    let mut rest = Vec::new();
    assert_eq!(conn.read_to_end(&mut rest).unwrap(), 0);
    assert!(emu.requests().is_empty());
}

#[test]
fn sixty_four_keep_alive_connections_at_once() {
    const N: usize = 64;
    let emu = start(Options::default());
    let addr = emu.addr();
    let barrier = Arc::new(Barrier::new(N));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut conn = connect(addr);
                send(&mut conn, &raw_post(&interact_path(), EVENT, ""));
                assert_eq!(read_response(&mut conn).unwrap().status, 200);
                // Every connection is open and idle here at the same time.
                barrier.wait();
                for _ in 0..3 {
                    send(
                        &mut conn,
                        &raw_post(&interact_path(), EVENT, &format!("x-request-id: c{i}\r\n")),
                    );
                    assert_eq!(read_response(&mut conn).unwrap().status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(emu.requests().len(), N * 4);
}

#[test]
fn https_with_a_test_ca() {
    let (ca, chain, key) = test_pki();
    let emu = start(Options {
        tls: Some(TlsIdentity {
            cert_chain_pem: chain,
            key_pem: key,
        }),
        ..Options::default()
    });
    let base = emu.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let trusting = tls_agent(&ca);
    let url = format!("{base}/ee/v2/interact?dataStreamId={DS}");
    for _ in 0..3 {
        let mut r = trusting.post(&url).send(EVENT).unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.body_mut().read_to_string().unwrap().contains("requestId"));
    }
    // The leaf also names localhost.
    let by_name = format!("https://localhost:{}/__emulator/health", emu.addr().port());
    assert_eq!(
        trusting.get(&by_name).call().unwrap().status().as_u16(),
        200
    );
    // A client that does not trust the CA fails, and so does plain HTTP.
    assert!(agent_default_roots().get(&by_name).call().is_err());
    let plain = format!("http://127.0.0.1:{}/__emulator/health", emu.addr().port());
    assert!(agent().get(&plain).call().is_err());
    // Faults work over TLS too.
    emu.inject(Fault::status(503));
    assert_eq!(
        trusting.post(&url).send(EVENT).unwrap().status().as_u16(),
        503
    );
}

fn agent_default_roots() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

#[test]
fn bad_tls_identity_fails_start() {
    let err = Emulator::start(Options {
        tls: Some(TlsIdentity {
            cert_chain_pem: "not pem".into(),
            key_pem: "not pem".into(),
        }),
        ..Options::default()
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn ipv6_loopback() {
    let emu = match Emulator::start(Options {
        bind: "::1".parse().unwrap(),
        ..Options::default()
    }) {
        Ok(emu) => emu,
        // Some containers have no IPv6 loopback at all.
        Err(e) if e.kind() == ErrorKind::AddrNotAvailable => return,
        Err(e) => panic!("{e}"),
    };
    let base = emu.base_url();
    assert!(base.starts_with("http://[::1]:"), "{base}");
    assert_eq!(get(&format!("{base}/__emulator/health")).status, 200);
}

#[test]
fn unspecified_bind_gives_a_loopback_base_url() {
    let emu = start(Options {
        bind: "0.0.0.0".parse().unwrap(),
        ..Options::default()
    });
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(
        get(&format!("{}/__emulator/health", emu.base_url())).status,
        200
    );
}

#[test]
fn shutdown_closes_idle_connections_and_interrupts_delays() {
    let emu = start(Options::default());
    let addr = emu.addr();
    // An idle keep-alive connection, and one waiting out a long delay.
    let mut idle = connect(addr);
    send(&mut idle, &raw_post(&interact_path(), EVENT, ""));
    assert_eq!(read_response(&mut idle).unwrap().status, 200);
    emu.inject(Fault::delay(60_000));
    let waiting = std::thread::spawn(move || {
        let mut conn = connect(addr);
        send(&mut conn, &raw_post(&interact_path(), EVENT, ""));
        read_response(&mut conn)
    });
    while emu.requests().len() < 2 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = Instant::now();
    emu.shutdown();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let mut rest = Vec::new();
    assert!(matches!(idle.read_to_end(&mut rest), Ok(0) | Err(_)));
    let _ = waiting.join().unwrap();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "no longer listening"
    );
}

#[test]
fn drop_stops_the_server() {
    let addr = {
        let emu = start(Options::default());
        emu.addr()
    };
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn emulator_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Emulator>();
}
