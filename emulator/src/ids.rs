//! Identifiers: request ids, ECIDs, tokens, and the opaque identity state value.

/// Random bytes from the OS. Failure is not expected on any supported platform; falling
/// back to a time-derived value keeps the emulator serving rather than panicking.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if getrandom::getrandom(&mut buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = fnv1a_128(&nanos.to_le_bytes());
        for b in &mut buf {
            *b = h as u8;
            h = h.rotate_right(8) ^ 0x9e37_79b9;
        }
    }
    buf
}

/// A random UUID v4 in the usual 8-4-4-4-12 form.
pub(crate) fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The 16 lowercase hex chars Edge appends to every request id.
pub(crate) fn entropy_suffix() -> String {
    hex(&random_bytes::<8>())
}

/// The response `requestId`: the client's id (or a new UUID) plus the entropy suffix.
pub(crate) fn response_request_id(client_id: Option<&str>) -> String {
    match client_id {
        Some(id) if !id.is_empty() => format!("{id}-{}", entropy_suffix()),
        _ => format!("{}-{}", uuid_v4(), entropy_suffix()),
    }
}

/// An opaque bearer token, like the ones IMS hands out (their content means nothing to
/// clients either).
pub(crate) fn access_token() -> String {
    format!("emu1.{}", base64url(&random_bytes::<32>(), false))
}

const ECID_MODULUS: u128 = 100_000_000_000_000_000_000_000_000_000_000_000_000; // 10^38

/// A new ECID: 38 decimal digits.
pub(crate) fn random_ecid() -> String {
    let n = u128::from_le_bytes(random_bytes::<16>()) % ECID_MODULUS;
    format!("{n:038}")
}

/// The ECID an FPID maps to. Edge derives it deterministically, so the same FPID must
/// always give the same ECID; the hash itself is the emulator's own.
pub(crate) fn ecid_from_fpid(fpid: &str) -> String {
    let n = fnv1a_128(format!("FPID:{fpid}").as_bytes()) % ECID_MODULUS;
    format!("{n:038}")
}

/// A stable number for a decision scope, so the same scope gets the same activity id.
pub(crate) fn stable_number(s: &str, modulus: u64) -> u64 {
    (fnv1a_128(s.as_bytes()) as u64) % modulus
}

/// The identity state value. Edge's is URL-safe base64 of a protobuf whose field 1 is
/// the ECID (so it starts "CiY" for a 38-digit ECID); this writes the same field 1 and
/// a marker field, which lets the emulator read back its own values and Edge's.
pub(crate) fn encode_identity(ecid: &str) -> String {
    let mut msg = vec![0x0a];
    put_varint(&mut msg, ecid.len() as u64);
    msg.extend_from_slice(ecid.as_bytes());
    // Field 10 (varint) = 1: "issued by the emulator", harmless to a real decoder.
    msg.extend_from_slice(&[0x50, 0x01]);
    base64url(&msg, true)
}

/// The ECID inside an identity state value, if it has one.
pub(crate) fn decode_identity(value: &str) -> Option<String> {
    let bytes = base64_decode(value)?;
    let (&tag, rest) = bytes.split_first()?;
    if tag != 0x0a {
        return None;
    }
    let (len, rest) = get_varint(rest)?;
    let ecid = rest.get(..usize::try_from(len).ok()?)?;
    let ecid = std::str::from_utf8(ecid).ok()?;
    (!ecid.is_empty()).then(|| ecid.to_string())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, &bytes[i + 1..]));
        }
    }
    None
}

fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) fn base64url(bytes: &[u8], pad: bool) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            s.push(URL_SAFE[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            for _ in chunk.len()..3 {
                s.push('=');
            }
        }
    }
    s
}

/// Decodes standard or URL-safe base64, padded or not.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn request_id_keeps_client_prefix() {
        let id = response_request_id(Some("abc"));
        assert!(id.starts_with("abc-"));
        let suffix = &id[4..];
        assert_eq!(suffix.len(), 16);
        assert!(suffix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(response_request_id(None).len(), 36 + 17);
    }

    #[test]
    fn ecids_are_38_digits_and_fpid_is_stable() {
        let e = random_ecid();
        assert_eq!(e.len(), 38);
        assert!(e.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(ecid_from_fpid("abc"), ecid_from_fpid("abc"));
        assert_ne!(ecid_from_fpid("abc"), ecid_from_fpid("abd"));
        assert_eq!(ecid_from_fpid("abc").len(), 38);
    }

    #[test]
    fn identity_value_round_trips_and_reads_edge_values() {
        let ecid = random_ecid();
        let v = encode_identity(&ecid);
        assert!(v.starts_with("CiY"), "{v}");
        assert_eq!(decode_identity(&v).as_deref(), Some(ecid.as_str()));
        // A value recorded from the real Edge Network (fixtures/response-identity-acquire-200.json).
        let real = "CiY0MTg2MTY2NjE5MzE0MDE2MTkzNDI3Njg0NTY1MTE0ODg3Njk4OFIQCM68vcXoMhgBKgNPUjIwAaAB0ry9xegysAHCqAHwAc68vcXoMg==";
        assert_eq!(
            decode_identity(real).as_deref(),
            Some("41861666193140161934276845651148876988")
        );
        assert_eq!(decode_identity("not base64!"), None);
        assert_eq!(decode_identity(""), None);
    }

    #[test]
    fn base64_round_trip() {
        for len in 0..10 {
            let data: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64url(&data, true)).unwrap(), data);
            assert_eq!(base64_decode(&base64url(&data, false)).unwrap(), data);
        }
        assert_eq!(base64url(b"foobar", true), "Zm9vYmFy");
        assert_eq!(base64url(b"fo", true), "Zm8=");
    }
}
