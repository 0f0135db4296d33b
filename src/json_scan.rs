//! A JSON scanner that validates and finds spans without building anything,
//! for the fast paths that copy JSON text through (`answer.rs`).
//!
//! It is deliberately *stricter* than serde_json, never looser: whatever it
//! accepts, `serde_json::from_slice::<Value>` accepts too (a fast path that
//! gets `None` falls back to the Value path, which gives the real error).
//! Stricter where it is cheap to be: lone surrogate escapes, nesting deeper
//! than [`MAX_DEPTH`], numbers that might not fit an `f64`, `-0`.

use std::borrow::Cow;
use std::ops::Range;

/// Nesting accepted (serde_json's limit is 128).
const MAX_DEPTH: u32 = 100;

/// The bytes that end a run of plain string characters: `"`, `\`, controls.
static STOPS_STRING: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The text of a JSON document, validated as UTF-8.
#[derive(Clone, Copy)]
pub struct Doc<'a> {
    pub text: &'a str,
}

/// A string as found: the text between its quotes, and whether it has escapes.
#[derive(Clone, Copy, Debug)]
pub struct RawStr<'a> {
    pub inner: &'a str,
    pub escaped: bool,
}

impl<'a> RawStr<'a> {
    /// The decoded string.
    #[inline]
    pub fn decode(&self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.inner))
        } else {
            Cow::Borrowed(self.inner)
        }
    }
}

impl<'a> Doc<'a> {
    pub fn new(bytes: &'a [u8]) -> Option<Doc<'a>> {
        Some(Doc {
            text: std::str::from_utf8(bytes).ok()?,
        })
    }

    #[inline]
    fn b(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The byte at `i`, if any.
    #[inline]
    pub fn byte(&self, i: usize) -> Option<u8> {
        self.b().get(i).copied()
    }

    #[inline]
    pub fn slice(&self, span: &Range<usize>) -> &'a str {
        &self.text[span.clone()]
    }

    /// Past any whitespace at `i`. Compact JSON has none: one compare
    /// (every whitespace byte is below `!`), the loop out of line.
    #[inline(always)]
    fn ws(&self, i: usize) -> usize {
        match self.b().get(i) {
            Some(&c) if c > b' ' => i,
            _ => self.ws_from(i),
        }
    }

    #[inline(never)]
    fn ws_from(&self, mut i: usize) -> usize {
        let b = self.b();
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// The one value of the whole document (surrounding whitespace allowed).
    #[cfg(test)]
    fn root(&self) -> Option<Range<usize>> {
        let start = self.ws(0);
        let end = self.skip(start, 0)?;
        (self.ws(end) == self.b().len()).then_some(start..end)
    }

    /// Walks the document's one value, which must be an object, as
    /// [`Doc::members`] does.
    pub fn root_members(&self, f: impl FnMut(RawStr<'a>, usize) -> Option<usize>) -> Option<()> {
        let end = self.members(self.ws(0), 0, f)?;
        (self.ws(end) == self.b().len()).then_some(())
    }

    /// Where the value starting at `i` (inside `depth` containers) ends.
    pub fn skip(&self, i: usize, depth: u32) -> Option<usize> {
        match *self.b().get(i)? {
            b'{' => self.members(i, depth, |_, start| self.skip(start, depth + 1)),
            b'[' => self.items(i, depth, |start| self.skip(start, depth + 1)),
            b'"' => self.string_end(i).map(|(end, _)| end),
            b't' => self.literal(i, b"true"),
            b'f' => self.literal(i, b"false"),
            b'n' => self.literal(i, b"null"),
            b'-' | b'0'..=b'9' => self.number_end(i),
            _ => None,
        }
    }

    fn literal(&self, i: usize, word: &[u8]) -> Option<usize> {
        self.b()[i..].starts_with(word).then_some(i + word.len())
    }

    /// Walks the object at `i`: `f(key, start)` reads (or skips, with
    /// [`Doc::skip`]) each member's value starting at `start` and returns
    /// where it ends. Returns where the object ends.
    pub fn members(
        &self,
        i: usize,
        depth: u32,
        mut f: impl FnMut(RawStr<'a>, usize) -> Option<usize>,
    ) -> Option<usize> {
        let b = self.b();
        if b.get(i) != Some(&b'{') || depth >= MAX_DEPTH {
            return None;
        }
        let mut j = self.ws(i + 1);
        if b.get(j) == Some(&b'}') {
            return Some(j + 1);
        }
        loop {
            if b.get(j) != Some(&b'"') {
                return None;
            }
            let (key_end, escaped) = self.string_end(j)?;
            let key = RawStr {
                inner: &self.text[j + 1..key_end - 1],
                escaped,
            };
            j = self.ws(key_end);
            if b.get(j) != Some(&b':') {
                return None;
            }
            let end = f(key, self.ws(j + 1))?;
            j = self.ws(end);
            match b.get(j) {
                Some(b',') => j = self.ws(j + 1),
                Some(b'}') => return Some(j + 1),
                _ => return None,
            }
        }
    }

    /// Walks the array at `i`: `f(start)` reads or skips each item and
    /// returns where it ends. Returns where the array ends.
    pub fn items(
        &self,
        i: usize,
        depth: u32,
        mut f: impl FnMut(usize) -> Option<usize>,
    ) -> Option<usize> {
        let b = self.b();
        if b.get(i) != Some(&b'[') || depth >= MAX_DEPTH {
            return None;
        }
        let mut j = self.ws(i + 1);
        if b.get(j) == Some(&b']') {
            return Some(j + 1);
        }
        loop {
            let end = f(j)?;
            j = self.ws(end);
            match b.get(j) {
                Some(b',') => j = self.ws(j + 1),
                Some(b']') => return Some(j + 1),
                _ => return None,
            }
        }
    }

    /// The end of the string at `i` (after its closing quote) and whether it
    /// holds escapes. Control characters and lone surrogates are refused.
    #[inline]
    fn string_end(&self, i: usize) -> Option<(usize, bool)> {
        let b = self.b();
        let j = plain_run_end(b, i + 1);
        if b.get(j) == Some(&b'"') {
            return Some((j + 1, false)); // most strings: one plain run
        }
        self.string_end_from(j)
    }

    /// [`Doc::string_end`] from `j`, inside a string, past its plain start
    /// (kept out of line: the common case above stays small).
    #[inline(never)]
    fn string_end_from(&self, mut j: usize) -> Option<(usize, bool)> {
        let b = self.b();
        let mut escaped = false;
        loop {
            j = plain_run_end(b, j);
            match *b.get(j)? {
                b'"' => return Some((j + 1, escaped)),
                b'\\' => {
                    escaped = true;
                    match *b.get(j + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                        b'u' => {
                            let unit = hex4(b.get(j + 2..j + 6)?)?;
                            j += 6;
                            if (0xDC00..0xE000).contains(&unit) {
                                return None;
                            }
                            if (0xD800..0xDC00).contains(&unit) {
                                if b.get(j..j + 2)? != b"\\u" {
                                    return None;
                                }
                                let low = hex4(b.get(j + 2..j + 6)?)?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return None;
                                }
                                j += 6;
                            }
                        }
                        _ => return None,
                    }
                }
                0..=0x1F => return None,
                _ => j += 1,
            }
        }
    }

    fn number_end(&self, i: usize) -> Option<usize> {
        let b = self.b();
        let mut j = i;
        if b[j] == b'-' {
            j += 1;
        }
        let int_start = j;
        match *b.get(j)? {
            b'0' => j += 1,
            b'1'..=b'9' => {
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            _ => return None,
        }
        if &b[i..j] == b"-0" {
            return None; // serde_json reads it as a float: leave it to it
        }
        let mut plain_int = true;
        if b.get(j) == Some(&b'.') {
            plain_int = false;
            j += 1;
            let digits = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j == digits {
                return None;
            }
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            plain_int = false;
            j += 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let digits = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j == digits {
                return None;
            }
        }
        // Integers beyond u64 and floats become f64: refuse what may overflow.
        let long = j - int_start > 300;
        if (!plain_int || long) && !self.text[i..j].parse::<f64>().is_ok_and(f64::is_finite) {
            return None;
        }
        Some(j)
    }

    /// The string value starting at `i` and where it ends, if the value
    /// there is a string (its escapes found as it is scanned, not again).
    #[inline]
    pub fn string_at(&self, i: usize) -> Option<(RawStr<'a>, usize)> {
        if self.byte(i) != Some(b'"') {
            return None;
        }
        let (end, escaped) = self.string_end(i)?;
        let inner = &self.text[i + 1..end - 1];
        Some((RawStr { inner, escaped }, end))
    }

    /// The string at `span`, if the value there is one.
    #[cfg(test)]
    pub fn string(&self, span: &Range<usize>) -> Option<RawStr<'a>> {
        let s = self.slice(span);
        let inner = s.strip_prefix('"')?.strip_suffix('"')?;
        // Validated contents: the only byte that stops a plain run is `\\`.
        Some(RawStr {
            inner,
            escaped: plain_run_end(inner.as_bytes(), 0) < inner.len(),
        })
    }

    #[inline]
    pub fn is_null(&self, span: &Range<usize>) -> bool {
        self.slice(span) == "null"
    }

    /// `serde_json::Value::as_i64` of the number at `span` (one the scan
    /// found: digits after an optional `-`, maybe a fraction or exponent).
    pub fn as_i64(&self, span: &Range<usize>) -> Option<i64> {
        let s = self.slice(span).as_bytes();
        let (negative, digits) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        if digits.is_empty() {
            return None;
        }
        // Summed below zero, so that i64::MIN fits; a fraction, an exponent
        // or an overflow gives None (serde_json: a float, or a u64 past i64).
        let mut sum: i64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            sum = sum.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
        }
        if negative {
            Some(sum)
        } else {
            sum.checked_neg()
        }
    }

    pub fn is_number(&self, span: &Range<usize>) -> bool {
        matches!(self.b().get(span.start), Some(b'-' | b'0'..=b'9'))
    }
}

impl Doc<'_> {
    /// Where the value at `i` ends if [`Doc::copy_canonical`] would write
    /// it exactly as it is: no whitespace, no escapes, numbers that are
    /// integers it copies as written, no key twice (and valid, as strictly
    /// as [`Doc::skip`]). `Err`: where it found otherwise.
    fn verbatim_end(&self, i: usize, depth: u32) -> Result<usize, usize> {
        let b = self.b();
        match b.get(i).copied() {
            Some(open @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(i);
                }
                let close = if open == b'{' { b'}' } else { b']' };
                let mut j = i + 1;
                if b.get(j) == Some(&close) {
                    return Ok(j + 1);
                }
                let mut keys = SeenKeys::default();
                loop {
                    if open == b'{' {
                        if b.get(j) != Some(&b'"') {
                            return Err(j);
                        }
                        let key_end = match self.string_end(j) {
                            Some((end, false)) => end,
                            _ => return Err(j),
                        };
                        let key = &self.text[j + 1..key_end - 1];
                        if keys.contains(key) || b.get(key_end) != Some(&b':') {
                            return Err(j);
                        }
                        keys.push(Cow::Borrowed(key));
                        j = key_end + 1;
                    }
                    j = self.verbatim_end(j, depth + 1)?;
                    match b.get(j) {
                        Some(b',') => j += 1,
                        Some(&c) if c == close => return Ok(j + 1),
                        _ => return Err(j),
                    }
                }
            }
            Some(b'"') => match self.string_end(i) {
                Some((end, false)) => Ok(end),
                _ => Err(i),
            },
            Some(b'-' | b'0'..=b'9') => {
                let end = self.number_end(i).ok_or(i)?;
                let text = &self.text[i..end];
                let plain = !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E'));
                if plain && (text.parse::<u64>().is_ok() || text.parse::<i64>().is_ok()) {
                    Ok(end)
                } else {
                    Err(i)
                }
            }
            Some(b't' | b'f' | b'n') => self.skip(i, depth).ok_or(i),
            _ => Err(i),
        }
    }

    /// Appends the value at `i` to `out` exactly as serde_json would write
    /// it back after parsing it into a `Value` (compact, keys in order,
    /// strings re-escaped its way, numbers as it prints them); `None` for an
    /// object with a key twice (a `Value` keeps one: leave that to serde).
    /// Returns where the value ends.
    ///
    /// A container already written the way serde_json would write it
    /// (compact, no escapes, integers only, no key twice: what a JSON
    /// serialiser produces) is copied whole after one scan
    /// ([`Doc::verbatim_end`]); others member by member.
    pub fn copy_canonical(&self, i: usize, depth: u32, out: &mut Vec<u8>) -> Option<usize> {
        self.copy_canonical_from(i, depth, out, &mut 0)
    }

    /// [`Doc::copy_canonical`]; `tried`: how far a failed whole-copy scan
    /// got. Containers that start before it are copied member by member, so
    /// no byte is scanned for a whole copy twice (deep nesting stays linear).
    fn copy_canonical_from(
        &self,
        i: usize,
        depth: u32,
        out: &mut Vec<u8>,
        tried: &mut usize,
    ) -> Option<usize> {
        let first = *self.b().get(i)?;
        if matches!(first, b'{' | b'[') && i >= *tried {
            match self.verbatim_end(i, depth) {
                Ok(end) => {
                    out.extend_from_slice(&self.b()[i..end]);
                    return Some(end);
                }
                Err(at) => *tried = at.max(i + 1),
            }
        }
        match first {
            b'{' => {
                out.push(b'{');
                let mut keys = SeenKeys::default();
                let end = self.members(i, depth, |key, start| {
                    let name = key.decode();
                    if keys.contains(&name) {
                        return None;
                    }
                    if !keys.is_empty() {
                        out.push(b',');
                    }
                    push_json_str(out, key, &name);
                    out.push(b':');
                    keys.push(name);
                    self.copy_canonical_from(start, depth + 1, out, tried)
                })?;
                out.push(b'}');
                Some(end)
            }
            b'[' => {
                out.push(b'[');
                let mut first = true;
                let end = self.items(i, depth, |start| {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    self.copy_canonical_from(start, depth + 1, out, tried)
                })?;
                out.push(b']');
                Some(end)
            }
            b'"' => {
                let (end, escaped) = self.string_end(i)?;
                let raw = RawStr {
                    inner: &self.text[i + 1..end - 1],
                    escaped,
                };
                push_json_str(out, raw, &raw.decode());
                Some(end)
            }
            b'-' | b'0'..=b'9' => {
                let end = self.number_end(i)?;
                let text = &self.text[i..end];
                let plain = !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E'));
                if plain && (text.parse::<u64>().is_ok() || text.parse::<i64>().is_ok()) {
                    out.extend_from_slice(text.as_bytes());
                } else {
                    // A float: printed as serde_json prints what it parsed.
                    let value: serde_json::Value = serde_json::from_str(text).ok()?;
                    serde_json::to_writer(&mut *out, &value).ok()?;
                }
                Some(end)
            }
            _ => {
                let end = self.skip(i, depth)?;
                out.extend_from_slice(&self.b()[i..end]);
                Some(end)
            }
        }
    }
}

/// The keys of one object seen so far, for the duplicate check: the first
/// [`SeenKeys::INLINE`] keys found without escapes on the stack as plain
/// borrows (nothing to drop: an allocation per object was a tenth of a
/// call's allocations), any others in a hash set (an object of many keys,
/// as a hostile body may send, is checked in linear time, not quadratic).
/// (`Option`s: a row of zeros to start from, where `""`s cost a store each.)
#[derive(Default)]
pub struct SeenKeys<'a> {
    first: [Option<&'a str>; SeenKeys::INLINE],
    inline: usize,
    /// Made at the ninth key (making one reads the thread's hash keys).
    rest: Option<std::collections::HashSet<Cow<'a, str>>>,
}

impl<'a> SeenKeys<'a> {
    const INLINE: usize = 8;

    pub fn contains(&self, key: &str) -> bool {
        self.first[..self.inline].contains(&Some(key))
            || self.rest.as_ref().is_some_and(|rest| rest.contains(key))
    }

    pub fn is_empty(&self) -> bool {
        self.inline == 0 && self.rest.as_ref().is_none_or(|rest| rest.is_empty())
    }

    pub fn push(&mut self, key: Cow<'a, str>) {
        match key {
            Cow::Borrowed(name) if self.inline < Self::INLINE => {
                self.first[self.inline] = Some(name);
                self.inline += 1;
            }
            key => {
                self.rest.get_or_insert_default().insert(key);
            }
        }
    }
}

/// A string as serde_json writes it: as found when it has no escapes (it
/// then holds nothing serde_json would escape), else decoded and re-escaped.
pub fn push_json_str(out: &mut Vec<u8>, raw: RawStr<'_>, decoded: &str) {
    if raw.escaped {
        serde_json::to_writer(&mut *out, decoded).expect("a str always serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(raw.inner.as_bytes());
        out.push(b'"');
    }
}

/// Where the run of plain string characters starting at `i` ends: at the
/// first `"`, `\\` or control character (or the end). Sixteen bytes at a
/// time with SSE2 on x86_64 (every x86_64 CPU has it), else eight bytes at a
/// time (a word's bytes are tested at once with the usual bit tricks: the
/// lowest flagged byte is exact), then byte by byte.
#[inline]
pub fn plain_run_end(b: &[u8], i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let i = plain_run_end_sse2(b, i);
    #[cfg(target_arch = "x86_64")]
    if b.len() - i >= 16 {
        return i; // it stopped at a flagged byte
    }
    plain_run_end_swar(b, i)
}

/// [`plain_run_end`] sixteen bytes at a time; stops at the first flagged
/// byte, or where fewer than sixteen bytes are left.
#[cfg(target_arch = "x86_64")]
#[inline]
fn plain_run_end_sse2(b: &[u8], mut i: usize) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    while let Some(chunk) = b.get(i..i + 16) {
        // SAFETY: SSE2 is part of the x86_64 baseline; `chunk` is sixteen
        // readable bytes (an unaligned load is allowed).
        let flags = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // v <= 0x1F unsigned: max(v, 0x1F) == 0x1F.
            let limit = _mm_set1_epi8(0x1F);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        if flags != 0 {
            return i + flags.trailing_zeros() as usize;
        }
        i += 16;
    }
    i
}

fn plain_run_end_swar(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    while let Some(word) = b.get(i..i + 8) {
        let v = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let flags = zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS);
        if flags != 0 {
            i += (flags.trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    while i < b.len() && !STOPS_STRING[usize::from(b[i])] {
        i += 1;
    }
    i
}

fn hex4(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Decodes the escapes of a string [`Doc`] validated.
fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                fn unit(chars: &mut std::str::Chars<'_>) -> u32 {
                    let hex: String = chars.take(4).collect();
                    u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD)
                }
                let first = unit(&mut chars);
                let code = if (0xD800..0xDC00).contains(&first) {
                    chars.next(); // '\'
                    chars.next(); // 'u'
                    let low = unit(&mut chars);
                    0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    first
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other), // " \ /
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn seen_keys_find_every_key_inline_or_past_it() {
        let names: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        let mut keys = SeenKeys::default();
        assert!(keys.is_empty());
        for (i, name) in names.iter().enumerate() {
            assert!(!keys.contains(name), "{name} before it was pushed");
            // Decoded (owned) keys beside borrowed ones, inline and past it.
            keys.push(if i % 3 == 0 {
                Cow::Owned(name.clone())
            } else {
                Cow::Borrowed(name)
            });
            assert!(!keys.is_empty());
        }
        assert!(names.iter().all(|name| keys.contains(name)));
        assert!(!keys.contains("k100") && !keys.contains(""));
    }

    /// Accepted here ⇒ accepted by serde_json.
    #[test]
    fn never_looser_than_serde_json() {
        let cases = [
            r#"{}"#,
            r#" {"a" : [1, -2, 3.5e-3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"] } "#,
            r#"{"s": "\ud83d\ude00"}"#,
            r#"{"s": "\ud800"}"#,
            r#"{"s": "\udc00x"}"#,
            r#"{"s": "\ud800\u0041"}"#,
            r#"{"n": 1e999}"#,
            r#"{"n": -0}"#,
            r#"{"n": 01}"#,
            r#"{"n": 1.}"#,
            r#"{"n": .5}"#,
            r#"{"n": 1e}"#,
            r#"{"n": +1}"#,
            "{\"c\": \"\u{1}\"}",
            r#"{"a": [1,]}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{"a": tru}"#,
            r#"{"a": 1} x"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            "",
            "   ",
        ];
        for text in cases {
            let ours = Doc::new(text.as_bytes()).and_then(|d| d.root()).is_some();
            let serde = serde_json::from_str::<Value>(text).is_ok();
            assert!(
                !ours || serde,
                "accepted here but not by serde_json: {text}"
            );
        }
        let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert!(Doc::new(deep.as_bytes()).unwrap().root().is_none());
    }

    #[test]
    fn canonical_copies_are_what_serde_json_writes() {
        for text in [
            // Compact: copied whole where nothing differs, else member by member.
            r#"{"a":[1,-2,{"b":true,"c":null},[]],"d":{},"e":"x","f":18446744073709551615}"#,
            r#"{"a":{"b":[1,2.5]},"c":{"d":"e"}}"#,
            r#"{"a":{"b":"\n"},"c":{"d":"e"},"f":[{"g":1},{"h":1e2}]}"#,
            r#"[{"a":1},{"\u0061":2},{"a":18446744073709551616}]"#,
            r#"{"a":{"b":1} ,"c":[1 ,2]}"#,
            r#" { "a" : [ 1 , -2 , 3.50 , 1e2, -1.5E-3, 18446744073709551615, -9223372036854775808, 18446744073709551616, true , null ] , "b" : { } , "c":[ ] } "#,
            r#"{"s": "x\"\\\/\b\f\n\r\t\u00e9\u0001\ud83d\ude00 é", "\u0041": 0}"#,
            r#"{"deep": {"er": [[{"x": "y"}]]}}"#,
        ] {
            let doc = Doc::new(text.as_bytes()).unwrap();
            let mut out = Vec::new();
            let start = doc.ws(0);
            doc.copy_canonical(start, 0, &mut out).unwrap();
            let want = serde_json::to_vec(&serde_json::from_str::<Value>(text).unwrap()).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
        for dup in [
            &br#"{"a": 1, "a": 2}"#[..],
            br#"{"a":1,"a":2}"#,
            br#"[{"x":{"a":1,"a":2}}]"#,
        ] {
            let doc = Doc::new(dup).unwrap();
            assert!(doc.copy_canonical(0, 0, &mut Vec::new()).is_none());
        }
        // Compact and canonical: the whole-copy scan takes it as it is.
        let text = r#"{"a":[1,-2,{"b":true,"c":null},[]],"d":{},"e":"x"}"#;
        assert_eq!(
            Doc::new(text.as_bytes()).unwrap().verbatim_end(0, 0),
            Ok(text.len())
        );
        // Compact with an escape at the bottom of deep nesting: still copied
        // right, each level once (the failed scan is not repeated per level).
        let deep = format!("{}\"\\n\"{}", "[".repeat(90), "]".repeat(90));
        let doc = Doc::new(deep.as_bytes()).unwrap();
        let mut out = Vec::new();
        doc.copy_canonical(0, 0, &mut out).unwrap();
        assert_eq!(out, deep.as_bytes());
        // Past the eight keys kept on the stack: a repeat of a key on the
        // stack, of one in the Vec, of an escaped one; twelve distinct keys.
        let keys: Vec<String> = (0..12).map(|k| format!("\"k{k}\": {k}")).collect();
        for repeat in [r#""k1": 0"#, r#""k10": 0"#, r#""\u006b3": 0"#] {
            let text = format!("{{{}, {repeat}}}", keys.join(", "));
            let doc = Doc::new(text.as_bytes()).unwrap();
            assert!(
                doc.copy_canonical(0, 0, &mut Vec::new()).is_none(),
                "{text}"
            );
        }
        let text = format!("{{{}}}", keys.join(","));
        let mut out = Vec::new();
        Doc::new(text.as_bytes())
            .unwrap()
            .copy_canonical(0, 0, &mut out)
            .unwrap();
        assert_eq!(out, text.replace(' ', "").into_bytes());
    }

    #[test]
    fn plain_runs_end_at_the_first_special_byte() {
        for text in [
            "",
            "abc",
            "abcdefghij\"k",
            "é€😀 plain text of some length\\x",
            "12345678\u{1}",
            "\"",
            "1234567\"",
            "abcdefgh",
        ] {
            let b = text.as_bytes();
            let want = b
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(b.len());
            for start in 0..=want {
                assert_eq!(plain_run_end(b, start), want, "{text:?} from {start}");
            }
        }
    }

    #[test]
    fn plain_runs_end_at_every_position_in_long_runs() {
        // Runs past sixteen bytes, so the wide loop, the word loop and the
        // byte loop each meet the stop; the filler includes bytes just
        // outside the stop set (0x20, 0x7F, 0x80, 0xFF).
        for filler in [b'a', 0x20, 0x7F, 0x80, 0xFF] {
            for stop in [b'"', b'\\', 0x00, 0x1F] {
                for len in 0..40 {
                    for at in 0..=len {
                        let mut b = vec![filler; len];
                        if at < len {
                            b[at] = stop;
                        }
                        for start in 0..=at {
                            assert_eq!(plain_run_end(&b, start), at, "{filler} {stop} {len} {at}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn integers_read_as_serde_json_reads_them() {
        for text in [
            "0",
            "-1",
            "123",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "99999999999999999999",
            "1.5",
            "-2.0",
            "1e2",
            "3E-1",
        ] {
            let doc = Doc::new(text.as_bytes()).unwrap();
            let span = 0..doc.number_end(0).unwrap();
            let want = serde_json::from_str::<Value>(text).unwrap().as_i64();
            assert_eq!(doc.as_i64(&span), want, "{text}");
        }
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them() {
        let text = r#"["plain", "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"]"#;
        let doc = Doc::new(text.as_bytes()).unwrap();
        let mut got = Vec::new();
        doc.items(0, 0, |start| {
            let end = doc.skip(start, 1)?;
            got.push(doc.string(&(start..end))?.decode().into_owned());
            Some(end)
        })
        .unwrap();
        let want: Vec<String> = serde_json::from_str(text).unwrap();
        assert_eq!(got, want);
    }
}
