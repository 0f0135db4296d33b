//! The JSON text of dict keys met before, found by the key's hash.
//!
//! An application sends the same few keys call after call, mostly the very
//! same `str` objects (literals, interned): writing a key is then a lookup
//! and a copy instead of reading its UTF-8 and scanning it for escapes. A
//! key whose object is new but whose text is known (a `json.loads`ed event)
//! is found by its text; only a key not seen before is learned (the entry
//! owns its `str`, so that a pointer compared equal is the same object).
//!
//! One cache for the process, taken by one conversion at a time with
//! `try_lock`: a conversion that finds it taken (another thread's, while
//! that one runs Python code, or a conversion nested in a `Mapping`'s
//! methods) writes its keys without it; nothing ever waits for it.

use crate::convert;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::sync::{Mutex, MutexGuard, TryLockError};

/// Entries (a power of two: the hash's low bits pick one).
const SLOTS: usize = 512;
/// Longer keys are written as any string, never kept.
const MAX_KEY_BYTES: usize = 64;

struct Entry {
    key: Py<PyString>,
    text: Box<str>,
    /// `text` as a JSON string, quotes included.
    json: Box<[u8]>,
}

pub struct KeyCache {
    slots: Vec<Option<Entry>>,
}

static KEYS: Mutex<Option<KeyCache>> = Mutex::new(None);

/// The cache, for one conversion, unless another holds it.
pub fn take() -> Option<MutexGuard<'static, Option<KeyCache>>> {
    match KEYS.try_lock() {
        Ok(guard) => Some(guard),
        // A panic while it was held left whole entries: each is written at once.
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl KeyCache {
    pub fn new() -> KeyCache {
        KeyCache {
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }

    /// The JSON text of `key`, an exact `str` (no Python code runs: its hash
    /// is `str`'s own, cached in the object); `None` for one not to keep (too
    /// long, or not valid Unicode: the caller writes it, or says why not).
    pub fn json_of(&mut self, key: &Bound<'_, PyString>) -> Option<&[u8]> {
        // SAFETY: `key` is a live str and the GIL is held.
        let hash = unsafe { ffi::PyObject_Hash(key.as_ptr()) };
        if hash == -1 {
            drop(PyErr::take(key.py()));
            return None;
        }
        let slot = &mut self.slots[(hash as usize) & (SLOTS - 1)];
        let same_object = slot
            .as_ref()
            .is_some_and(|entry| std::ptr::eq(entry.key.as_ptr(), key.as_ptr()));
        if !same_object {
            let text = convert::text(key).filter(|text| text.len() <= MAX_KEY_BYTES)?;
            let same_text = slot.as_ref().is_some_and(|entry| *entry.text == *text);
            if !same_text {
                let mut json = String::with_capacity(text.len() + 2);
                convert::push_json_str(&mut json, &text);
                *slot = Some(Entry {
                    key: key.clone().unbind(),
                    text: text.into(),
                    json: json.into_bytes().into_boxed_slice(),
                });
            }
        }
        slot.as_ref().map(|entry| &*entry.json)
    }
}
