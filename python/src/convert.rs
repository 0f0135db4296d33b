//! Strict conversion between Python objects and `serde_json::Value`.
//!
//! Python → JSON accepts exactly what JSON can hold: `None`, `bool`, `int`
//! (within i64/u64), finite `float`, `str`, any `collections.abc.Mapping` with
//! `str` keys (`dict` first, on a fast path) and any `Sequence` that is not
//! text or bytes (`list` and `tuple` first). Anything else raises `TypeError`
//! naming the path of the value (`event.xdm.foo[2]`), before anything is sent;
//! a dataclass or a pydantic model is told what to call to get a dict.
//!
//! One traversal feeds a [`Sink`]: a `Value` builder (`to_value`) or a JSON
//! text writer (`to_text`, what the blocking calls send to the core's text
//! path), so both accept and refuse exactly the same values.

use crate::key_cache::{self, KeyCache};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::MutexGuard;

/// Deeper nesting than this is refused (it is almost always a cycle).
const MAX_DEPTH: usize = 128;

/// Converts `obj` to JSON; `root` names it in error messages ("" for a
/// request dict, whose keys then start the path).
pub fn to_value(obj: &Bound<'_, PyAny>, root: &str) -> PyResult<Value> {
    let mut sink = ValueSink::default();
    convert(obj, 0, &mut sink).map_err(|failure| failure.into_error(root))?;
    Ok(sink.done.unwrap_or(Value::Null))
}

/// As [`to_value`], writing the JSON text (compact) to `out` instead.
pub fn to_text(obj: &Bound<'_, PyAny>, root: &str, out: &mut String) -> PyResult<()> {
    write(obj, root, &mut TextSink::new(out))
}

/// Converts `obj` into `sink` (what [`to_text`] does with a [`TextSink`]).
pub(crate) fn write(obj: &Bound<'_, PyAny>, root: &str, sink: &mut impl Sink) -> PyResult<()> {
    convert(obj, 0, sink).map_err(|failure| failure.into_error(root))
}

/// What the traversal emits, in document order.
pub(crate) trait Sink {
    fn null(&mut self);
    fn bool(&mut self, b: bool);
    fn i64(&mut self, i: i64);
    fn u64(&mut self, u: u64);
    /// A finite float.
    fn f64(&mut self, x: f64);
    fn str(&mut self, s: &str);
    fn begin_object(&mut self, len: usize);
    /// The key of the object member whose value follows.
    fn key(&mut self, key: &str);
    /// As [`Sink::key`] for an exact `str`, from what the sink keeps of the
    /// keys met before; `false` when it keeps nothing for it (then `key`).
    fn known_key(&mut self, _key: &Bound<'_, PyString>) -> bool {
        false
    }
    /// A `Mapping` that is not a dict is about to be read (its `items()`
    /// may repeat a key, as no dict can).
    fn not_a_dict(&mut self) {}
    fn end_object(&mut self);
    fn begin_array(&mut self, len: usize);
    fn end_array(&mut self);
}

/// Builds a `Value`: containers being filled on a stack.
#[derive(Default)]
struct ValueSink {
    stack: Vec<Open>,
    done: Option<Value>,
}

enum Open {
    Object(Map<String, Value>, Option<String>),
    Array(Vec<Value>),
}

impl ValueSink {
    fn value(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.done = Some(value),
            Some(Open::Array(items)) => items.push(value),
            Some(Open::Object(map, key)) => {
                map.insert(key.take().unwrap_or_default(), value);
            }
        }
    }
}

impl Sink for ValueSink {
    fn null(&mut self) {
        self.value(Value::Null);
    }
    fn bool(&mut self, b: bool) {
        self.value(Value::Bool(b));
    }
    fn i64(&mut self, i: i64) {
        self.value(Value::Number(i.into()));
    }
    fn u64(&mut self, u: u64) {
        self.value(Value::Number(u.into()));
    }
    fn f64(&mut self, x: f64) {
        self.value(Number::from_f64(x).map_or(Value::Null, Value::Number));
    }
    fn str(&mut self, s: &str) {
        self.value(Value::String(s.to_string()));
    }
    fn begin_object(&mut self, len: usize) {
        self.stack.push(Open::Object(Map::with_capacity(len), None));
    }
    fn key(&mut self, key: &str) {
        if let Some(Open::Object(_, pending)) = self.stack.last_mut() {
            *pending = Some(key.to_string());
        }
    }
    fn end_object(&mut self) {
        if let Some(Open::Object(map, _)) = self.stack.pop() {
            self.value(Value::Object(map));
        }
    }
    fn begin_array(&mut self, len: usize) {
        self.stack.push(Open::Array(Vec::with_capacity(len)));
    }
    fn end_array(&mut self) {
        if let Some(Open::Array(items)) = self.stack.pop() {
            self.value(Value::Array(items));
        }
    }
}

/// Writes compact JSON text, as serde_json writes it (so that the core's
/// scanner finds it in its canonical form: the fast paths copy it whole).
/// Text written for a value that then fails is abandoned with the whole
/// conversion.
pub(crate) struct TextSink<'a> {
    out: &'a mut String,
    /// A value was written in the open container: the next one needs a comma.
    need_comma: bool,
    /// The keys met before, unless another conversion holds them.
    keys: Option<MutexGuard<'static, Option<KeyCache>>>,
}

impl<'a> TextSink<'a> {
    pub(crate) fn new(out: &'a mut String) -> TextSink<'a> {
        TextSink {
            out,
            need_comma: false,
            keys: key_cache::take(),
        }
    }

    /// Whether the open container has a value written (the next needs a comma).
    pub(crate) fn has_member(&self) -> bool {
        self.need_comma
    }

    /// Writes a value of the caller's own: `write` appends its text (valid
    /// JSON) to the bytes after the comma this sink puts before it.
    ///
    /// # Safety
    /// `write` must leave the bytes it appends valid UTF-8.
    pub(crate) unsafe fn raw_value(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.before_value();
        // SAFETY: passed on to our caller.
        unsafe { self.raw(write) };
    }

    /// Appends text of the caller's own (members, commas).
    ///
    /// # Safety
    /// `write` must leave the bytes it appends valid UTF-8.
    pub(crate) unsafe fn raw(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        // SAFETY: `write` appends UTF-8, as our caller promises.
        write(unsafe { self.out.as_mut_vec() });
    }

    /// [`Sink::known_key`], handing the key's JSON text (quotes included)
    /// to `see` when it is written from the cache.
    pub(crate) fn known_key_seen(
        &mut self,
        key: &Bound<'_, PyString>,
        see: impl FnOnce(&[u8]),
    ) -> bool {
        let Some(keys) = &mut self.keys else {
            return false;
        };
        let Some(json) = keys.get_or_insert_with(KeyCache::new).json_of(key) else {
            return false;
        };
        // SAFETY: `json` is a JSON string (UTF-8), as `key` writes it.
        let out = unsafe { self.out.as_mut_vec() };
        if self.need_comma {
            out.push(b',');
        }
        see(json);
        out.extend_from_slice(json);
        out.push(b':');
        self.need_comma = false;
        true
    }

    fn before_value(&mut self) {
        if self.need_comma {
            self.out.push(',');
        }
        self.need_comma = true;
    }
}

impl Sink for TextSink<'_> {
    fn null(&mut self) {
        self.before_value();
        self.out.push_str("null");
    }
    fn bool(&mut self, b: bool) {
        self.before_value();
        self.out.push_str(if b { "true" } else { "false" });
    }
    fn i64(&mut self, i: i64) {
        self.before_value();
        let _ = write!(self.out, "{i}");
    }
    fn u64(&mut self, u: u64) {
        self.before_value();
        let _ = write!(self.out, "{u}");
    }
    fn f64(&mut self, x: f64) {
        self.before_value();
        // serde_json's own text for it (ryu: "1.0", "1e300"), the shortest
        // that reads back as the same f64: what the core would write.
        // SAFETY: serde_json writes UTF-8 (ASCII here).
        let _ = serde_json::to_writer(unsafe { self.out.as_mut_vec() }, &x);
    }
    fn str(&mut self, s: &str) {
        self.before_value();
        push_json_str(self.out, s);
    }
    fn begin_object(&mut self, _len: usize) {
        self.before_value();
        self.out.push('{');
        self.need_comma = false;
    }
    fn key(&mut self, key: &str) {
        if self.need_comma {
            self.out.push(',');
        }
        push_json_str(self.out, key);
        self.out.push(':');
        self.need_comma = false;
    }
    fn known_key(&mut self, key: &Bound<'_, PyString>) -> bool {
        self.known_key_seen(key, |_| {})
    }
    fn end_object(&mut self) {
        self.out.push('}');
        self.need_comma = true;
    }
    fn begin_array(&mut self, _len: usize) {
        self.before_value();
        self.out.push('[');
        self.need_comma = false;
    }
    fn end_array(&mut self) {
        self.out.push(']');
        self.need_comma = true;
    }
}

/// `s` as a JSON string: `"` and `\\` escaped, control characters as `\\u00XX`
/// (short forms where JSON has them).
///
/// Eight bytes at a time: each word is checked for bytes to escape and, when
/// it has none (most strings: keys, ids, URLs, hashes), stored whole where
/// the text ends (the tail too, padded with spaces, which the length then
/// leaves out): one store per word, no capacity check per byte or word.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    // SAFETY: what ends up within the length is UTF-8: `s` copied whole or
    // cut just before an ASCII byte (one to escape), escapes and quotes.
    let buf = unsafe { out.as_mut_vec() };
    let mut rest = s.as_bytes();
    // Invariant at the top of the loop: `len` bytes are written (the old
    // text, the opening quote and whole words), and the capacity is at least
    // `len + rest.len() + 9`: room for a whole word at `len`, and the quote.
    buf.reserve(rest.len() + 10);
    let mut len = buf.len();
    // SAFETY: within the capacity reserved above.
    unsafe { buf.as_mut_ptr().add(len).write(b'"') };
    len += 1;
    loop {
        let (word, taken) = match rest.first_chunk::<8>() {
            Some(chunk) => (u64::from_le_bytes(*chunk), 8),
            None if rest.is_empty() => break,
            None => (short_word(rest), rest.len()),
        };
        let mask = escape_mask(word);
        if mask == 0 {
            // SAFETY: `len + 8 <= capacity` by the invariant (`taken` is
            // 8, or all of `rest`); `len + rest.len()` stays the same.
            unsafe {
                let at = buf.as_mut_ptr().add(len);
                std::ptr::copy_nonoverlapping(word.to_le_bytes().as_ptr(), at, 8);
            }
            len += taken;
            rest = &rest[taken..];
            continue;
        }
        // A byte to escape (rare): the plain bytes before it, then its
        // escape, with checked pushes; then the invariant again.
        let i = first_marked(mask);
        // SAFETY: the first `len` bytes are written.
        unsafe { buf.set_len(len) };
        buf.extend_from_slice(&rest[..i]);
        push_escaped(buf, rest[i]);
        rest = &rest[i + 1..];
        buf.reserve(rest.len() + 9);
        len = buf.len();
    }
    // SAFETY: `len < capacity` by the invariant; the first `len` bytes are
    // written, and the closing quote now.
    unsafe {
        buf.as_mut_ptr().add(len).write(b'"');
        buf.set_len(len + 1);
    }
}

/// The JSON escape of a byte [`escape_mask`] marks.
fn push_escaped(buf: &mut Vec<u8>, byte: u8) {
    match byte {
        b'"' => buf.extend_from_slice(b"\\\""),
        b'\\' => buf.extend_from_slice(b"\\\\"),
        b'\n' => buf.extend_from_slice(b"\\n"),
        b'\r' => buf.extend_from_slice(b"\\r"),
        b'\t' => buf.extend_from_slice(b"\\t"),
        0x08 => buf.extend_from_slice(b"\\b"),
        0x0c => buf.extend_from_slice(b"\\f"),
        b => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0x0f)]);
        }
    }
}

/// Up to 7 bytes as a little-endian word, padded with spaces (which JSON
/// never escapes); read in two overlapping pieces, as small copies are.
fn short_word(bytes: &[u8]) -> u64 {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let n = bytes.len();
    debug_assert!(n < 8);
    let two = |at: usize| u64::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let four = |at: usize| {
        u64::from(u32::from_le_bytes([
            bytes[at],
            bytes[at + 1],
            bytes[at + 2],
            bytes[at + 3],
        ]))
    };
    // The pieces overlap on equal bytes: OR keeps them.
    let word = match n {
        0 => 0,
        1 => u64::from(bytes[0]),
        2 | 3 => two(0) | (two(n - 2) << (8 * (n - 2))),
        _ => four(0) | (four(n - 4) << (8 * (n - 4))),
    };
    word | (SPACES << (8 * n))
}

/// The high bit of the bytes of `w` (read little-endian: its first byte is
/// the lowest) that JSON escapes. Borrows between bytes can mark a byte
/// after one that is escaped, never before: the lowest mark is exact.
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The bytes that are zero.
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    // A byte below 0x20 (bytes >= 0x80 have their high bit, masked by !w).
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    control | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

/// The index of the byte of the lowest mark of [`escape_mask`].
fn first_marked(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Why a conversion failed. The path of the value at fault is collected
/// while the failure travels up (innermost step first), so that the calls
/// that succeed never build one.
enum Failure {
    /// A value JSON cannot hold: raised as `TypeError("<path>: <what>")`.
    Refused { what: String, steps: Vec<Step> },
    /// An exception from Python code the conversion ran (a Mapping's `items`...).
    Raised(PyErr),
}

enum Step {
    Key(String),
    Index(usize),
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Failure {
        Failure::Raised(e)
    }
}

impl Failure {
    fn refused(what: String) -> Failure {
        Failure::Refused {
            what,
            steps: Vec::new(),
        }
    }

    /// Adds the step to the value that failed (on the way up).
    fn at(mut self, step: Step) -> Failure {
        if let Failure::Refused { steps, .. } = &mut self {
            steps.push(step);
        }
        self
    }

    fn into_error(self, root: &str) -> PyErr {
        match self {
            Failure::Raised(e) => e,
            Failure::Refused { what, steps } => {
                let mut path = root.to_string();
                for step in steps.iter().rev() {
                    match step {
                        Step::Key(key) => push_key(&mut path, key),
                        Step::Index(i) => path.push_str(&format!("[{i}]")),
                    }
                }
                let shown = if path.is_empty() { "the value" } else { &path };
                PyTypeError::new_err(format!("{shown}: {what}"))
            }
        }
    }
}

type Converted = Result<(), Failure>;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize, sink: &mut impl Sink) -> Converted {
    if depth > MAX_DEPTH {
        return Err(Failure::refused(format!(
            "nested deeper than {MAX_DEPTH} levels (is there a cycle?)"
        )));
    }
    if let Some(done) = exact_scalar(obj, sink) {
        return done;
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return dict_object(dict, depth, sink);
    }
    // Subclasses of str, bool, int and float.
    if let Ok(s) = obj.cast::<PyString>() {
        return string(s, sink);
    }
    // bool before int: bool is a subclass of int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        sink.bool(b.is_true());
        return Ok(());
    }
    if obj.is_instance_of::<PyInt>() {
        return int(obj, sink);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return float(f, sink);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return sequence(list.iter(), list.len(), depth, sink);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return sequence(tuple.iter(), tuple.len(), depth, sink);
    }
    let py = obj.py();
    if let Some(call) = to_dict_hint(obj)? {
        return Err(Failure::refused(format!(
            "a {} cannot be converted to JSON (pass {call})",
            type_name(obj)
        )));
    }
    if obj.is_instance(abc(py, &MAPPING, "Mapping")?)? {
        sink.not_a_dict();
        let items = obj.call_method0("items")?;
        let mut pairs = Vec::new();
        for item in items.try_iter()? {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            pairs.push((key, value));
        }
        let len = pairs.len();
        return object(pairs.into_iter(), len, depth, sink);
    }
    let text_like = obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>();
    if !text_like && obj.is_instance(abc(py, &SEQUENCE, "Sequence")?)? {
        let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
        let len = items.len();
        return sequence(items.into_iter(), len, depth, sink);
    }
    let hint = match type_name(obj).as_str() {
        "datetime" | "date" | "time" => " (send .isoformat() instead)",
        "set" | "frozenset" => " (send a list instead)",
        "bytes" | "bytearray" => " (decode it to a str first)",
        "Decimal" => " (send a float or a str instead)",
        _ => "",
    };
    Err(Failure::refused(format!(
        "a {} cannot be converted to JSON{hint}",
        type_name(obj)
    )))
}

/// A value whose type is exactly `str`, `int`, `float`, `bool` or `None`
/// (nearly every leaf), told by its type pointer alone; `None` for the rest.
/// Runs no Python code (see [`dict_object`]).
fn exact_scalar(obj: &Bound<'_, PyAny>, sink: &mut impl Sink) -> Option<Converted> {
    let ty = obj.get_type_ptr();
    // Only the addresses of the built-in type objects are taken (no read).
    let is = |t: *mut ffi::PyTypeObject| std::ptr::eq(ty, t);
    Some(if is(&raw mut ffi::PyUnicode_Type) {
        // SAFETY: its type is str.
        string(unsafe { obj.cast_unchecked::<PyString>() }, sink)
    } else if is(&raw mut ffi::PyLong_Type) {
        int(obj, sink)
    } else if obj.is_none() {
        sink.null();
        Ok(())
    } else if is(&raw mut ffi::PyBool_Type) {
        // SAFETY: Py_True is the address of the `True` singleton.
        sink.bool(std::ptr::eq(obj.as_ptr(), unsafe { ffi::Py_True() }));
        Ok(())
    } else if is(&raw mut ffi::PyFloat_Type) {
        // SAFETY: its type is float.
        float(unsafe { obj.cast_unchecked::<PyFloat>() }, sink)
    } else {
        return None;
    })
}

fn string(s: &Bound<'_, PyString>, sink: &mut impl Sink) -> Converted {
    match text(s) {
        Some(text) => {
            sink.str(&text);
            Ok(())
        }
        None => Err(Failure::refused(
            "a str that is not valid Unicode (a lone surrogate?) cannot be sent as JSON".into(),
        )),
    }
}

/// An `int` (or a subclass: its value, never `__index__`).
fn int(obj: &Bound<'_, PyAny>, sink: &mut impl Sink) -> Converted {
    if let Ok(i) = obj.extract::<i64>() {
        sink.i64(i);
        return Ok(());
    }
    if let Ok(u) = obj.extract::<u64>() {
        sink.u64(u);
        return Ok(());
    }
    Err(Failure::refused(
        "an int outside the 64-bit range cannot be sent as a JSON number (send it as a str)".into(),
    ))
}

fn float(f: &Bound<'_, PyFloat>, sink: &mut impl Sink) -> Converted {
    let x = f.value();
    if !x.is_finite() {
        return Err(Failure::refused(format!(
            "{} is not allowed in JSON",
            float_name(x)
        )));
    }
    sink.f64(x);
    Ok(())
}

/// A `dict` (or a subclass, read as a dict as before), entry by entry with
/// `PyDict_Next`: no reference counting per entry for the common entries,
/// a `str` key with a scalar value.
///
/// Soundness: `PyDict_Next` lends its references; they stay valid while the
/// dict holds the entry, that is until Python code runs (it could change
/// the dict). A key and a scalar value ([`exact_scalar`]) are written
/// without running any; every other value, and its key, are owned before
/// their conversion runs (a `Mapping`'s `items`, an ABC check...). The dict
/// itself is owned by the caller. A dict whose size changes meanwhile
/// raises `RuntimeError`, as Python's own iteration does.
fn dict_object(dict: &Bound<'_, PyDict>, depth: usize, sink: &mut impl Sink) -> Converted {
    let py = dict.py();
    // SAFETY: `dict` is a live dict and the GIL is held.
    let size = || unsafe { ffi::PyDict_Size(dict.as_ptr()) };
    let len = size();
    sink.begin_object(usize::try_from(len).unwrap_or(0));
    let mut position: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: as above; the out-pointers are valid.
    while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut position, &mut key, &mut value) } != 0 {
        {
            // SAFETY: entries lent by PyDict_Next (non-NULL when it returns
            // 1), used in this block only, where no Python code runs.
            let (lent_key, lent_value) =
                unsafe { (Borrowed::from_ptr(py, key), Borrowed::from_ptr(py, value)) };
            if let Ok(lent_key) = lent_key.cast::<PyString>() {
                if depth < MAX_DEPTH && write_key(&lent_key, sink) {
                    if let Some(done) = exact_scalar(&lent_value, sink) {
                        done.map_err(|failure| failure.at(Step::Key(name_of(&lent_key))))?;
                        continue;
                    }
                    // The key is written; owned, key and value live
                    // through whatever Python code the value's conversion runs.
                    let (key, value) = (lent_key.to_owned(), lent_value.to_owned());
                    member_value(&key, &value, depth, sink)?;
                    if size() != len {
                        return Err(changed_size());
                    }
                    continue;
                }
            }
        }
        // A key that is not a str, or not valid Unicode, or a value nested
        // too deep: the general path tells which (owned references).
        // SAFETY: entries lent by PyDict_Next, owned at once.
        let (key, value) = unsafe {
            (
                Bound::from_borrowed_ptr(py, key),
                Bound::from_borrowed_ptr(py, value),
            )
        };
        member(&key, &value, depth, sink)?;
        if size() != len {
            return Err(changed_size());
        }
    }
    sink.end_object();
    Ok(())
}

/// Writes a `str` key: its cached JSON text when it is an exact `str` the
/// key cache knows, else from its text. `false`, nothing written, for a key
/// that is not valid Unicode (the general path says why).
fn write_key(key: &Bound<'_, PyString>, sink: &mut impl Sink) -> bool {
    if key.is_exact_instance_of::<PyString>() && sink.known_key(key) {
        return true;
    }
    match text(key) {
        Some(name) => {
            sink.key(&name);
            true
        }
        None => false,
    }
}

fn changed_size() -> Failure {
    Failure::Raised(PyRuntimeError::new_err(
        "dictionary changed size during iteration",
    ))
}

/// A JSON object from `(key, value)` pairs whose keys must be `str`.
fn object<'py>(
    items: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    len: usize,
    depth: usize,
    sink: &mut impl Sink,
) -> Converted {
    sink.begin_object(len);
    for (key, value) in items {
        member(&key, &value, depth, sink)?;
    }
    sink.end_object();
    Ok(())
}

/// One member of an object: its key (which must be a `str`) and its value.
fn member(
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    depth: usize,
    sink: &mut impl Sink,
) -> Converted {
    let Ok(key) = key.cast::<PyString>() else {
        let repr = key
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(Failure::refused(format!(
            "the key {repr} is a {}; JSON object keys must be str",
            type_name(key)
        )));
    };
    let Some(name) = text(key) else {
        return Err(Failure::refused(
            "a key that is not valid Unicode cannot be sent as JSON".into(),
        ));
    };
    sink.key(&name);
    member_value(key, value, depth, sink)
}

/// The value of a member whose key `key` is written.
fn member_value(
    key: &Bound<'_, PyString>,
    value: &Bound<'_, PyAny>,
    depth: usize,
    sink: &mut impl Sink,
) -> Converted {
    convert(value, depth + 1, sink).map_err(|failure| failure.at(Step::Key(name_of(key))))
}

/// A key's text for the path of a failure.
fn name_of(key: &Bound<'_, PyString>) -> String {
    text(key).map(Cow::into_owned).unwrap_or_default()
}

static MAPPING: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SEQUENCE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `collections.abc.<name>`, imported once.
fn abc<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    Ok(cell
        .get_or_try_init(py, || -> PyResult<Py<PyType>> {
            Ok(py
                .import("collections.abc")?
                .getattr(name)?
                .cast_into::<PyType>()?
                .unbind())
        })?
        .bind(py))
}

/// What to call to turn a dataclass or a pydantic model into a dict.
fn to_dict_hint(obj: &Bound<'_, PyAny>) -> PyResult<Option<&'static str>> {
    let cls = obj.get_type();
    if cls.hasattr("__dataclass_fields__")? {
        return Ok(Some("dataclasses.asdict(value)"));
    }
    if cls.hasattr("model_dump")? && cls.hasattr("model_fields")? {
        return Ok(Some("value.model_dump(mode=\"json\")"));
    }
    if cls.hasattr("__fields__")? && cls.hasattr("dict")? && cls.hasattr("json")? {
        return Ok(Some("value.dict()"));
    }
    Ok(None)
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    depth: usize,
    sink: &mut impl Sink,
) -> Converted {
    sink.begin_array(len);
    for (i, item) in items.enumerate() {
        convert(&item, depth + 1, sink).map_err(|failure| failure.at(Step::Index(i)))?;
    }
    sink.end_array();
    Ok(())
}

/// The UTF-8 text of a `str`, or `None` for one that is not valid Unicode
/// (a lone surrogate).
///
/// On 3.10+ it borrows the str's own UTF-8 (`PyUnicode_AsUTF8AndSize`, in the
/// stable ABI since 3.10; pyo3 built for abi3-py39 does not use it). On 3.9,
/// pyo3's `to_cow` encodes a bytes object and copies it.
pub(crate) fn text<'a>(s: &'a Bound<'_, PyString>) -> Option<Cow<'a, str>> {
    if !borrows_utf8(s.py()) {
        return s.to_cow().ok();
    }
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str (its type was checked) and the GIL is held;
    // the returned buffer belongs to `s` and lives as long as `s` does ('a).
    let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if data.is_null() {
        drop(PyErr::take(s.py()));
        return None;
    }
    let len = usize::try_from(size).ok()?;
    // SAFETY: CPython returns `size` bytes of valid UTF-8 at `data` (a str it
    // cannot encode, with a lone surrogate, returned NULL above).
    Some(Cow::Borrowed(unsafe {
        std::str::from_utf8_unchecked(std::slice::from_raw_parts(data.cast::<u8>(), len))
    }))
}

extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// Whether this interpreter has `PyUnicode_AsUTF8AndSize` in its stable ABI
/// (3.10+), asked once.
fn borrows_utf8(py: Python<'_>) -> bool {
    static ANSWER: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
    match ANSWER.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = py.version_info() >= (3, 10);
            ANSWER.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

/// `.key` for identifier-like keys, `["key"]` for the rest.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == ':' || c == '@');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_string()).to_string());
        path.push(']');
    }
}

fn float_name(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// Converts JSON to plain Python objects (dicts keep the JSON key order).
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}
