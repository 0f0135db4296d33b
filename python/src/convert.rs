//! Strict conversion between Python objects and `serde_json::Value`.
//!
//! Python → JSON accepts exactly what JSON can hold: `None`, `bool`, `int`
//! (within i64/u64), finite `float`, `str`, any `collections.abc.Mapping` with
//! `str` keys (`dict` first, on a fast path) and any `Sequence` that is not
//! text or bytes (`list` and `tuple` first). Anything else raises `TypeError`
//! naming the path of the value (`event.xdm.foo[2]`), before anything is sent;
//! a dataclass or a pydantic model is told what to call to get a dict.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use serde_json::{Map, Number, Value};

/// Deeper nesting than this is refused (it is almost always a cycle).
const MAX_DEPTH: usize = 128;

/// Converts `obj` to JSON; `root` names it in error messages ("" for a
/// request dict, whose keys then start the path).
pub fn to_value(obj: &Bound<'_, PyAny>, root: &str) -> PyResult<Value> {
    let mut path = root.to_string();
    convert(obj, &mut path, 0)
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "the value"
    } else {
        path
    }
}

fn type_error(path: &str, what: String) -> PyErr {
    PyTypeError::new_err(format!("{}: {what}", shown(path)))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn convert(obj: &Bound<'_, PyAny>, path: &mut String, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(type_error(
            path,
            format!("nested deeper than {MAX_DEPTH} levels (is there a cycle?)"),
        ));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: bool is a subclass of int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_cow() {
            Ok(text) => Ok(Value::String(text.into_owned())),
            Err(_) => Err(type_error(
                path,
                "a str that is not valid Unicode (a lone surrogate?) cannot be sent as JSON".into(),
            )),
        };
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(type_error(
            path,
            "an int outside the 64-bit range cannot be sent as a JSON number (send it as a str)"
                .into(),
        ));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        return match Number::from_f64(x) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(type_error(
                path,
                format!("{} is not allowed in JSON", float_name(x)),
            )),
        };
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return object(dict.iter(), dict.len(), path, depth);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return sequence(list.iter(), list.len(), path, depth);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return sequence(tuple.iter(), tuple.len(), path, depth);
    }
    let py = obj.py();
    if let Some(call) = to_dict_hint(obj)? {
        return Err(type_error(
            path,
            format!(
                "a {} cannot be converted to JSON (pass {call})",
                type_name(obj)
            ),
        ));
    }
    if obj.is_instance(abc(py, &MAPPING, "Mapping")?)? {
        let items = obj.call_method0("items")?;
        let mut pairs = Vec::new();
        for item in items.try_iter()? {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            pairs.push((key, value));
        }
        let len = pairs.len();
        return object(pairs.into_iter(), len, path, depth);
    }
    let text_like = obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>();
    if !text_like && obj.is_instance(abc(py, &SEQUENCE, "Sequence")?)? {
        let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
        let len = items.len();
        return sequence(items.into_iter(), len, path, depth);
    }
    let hint = match type_name(obj).as_str() {
        "datetime" | "date" | "time" => " (send .isoformat() instead)",
        "set" | "frozenset" => " (send a list instead)",
        "bytes" | "bytearray" => " (decode it to a str first)",
        "Decimal" => " (send a float or a str instead)",
        _ => "",
    };
    Err(type_error(
        path,
        format!("a {} cannot be converted to JSON{hint}", type_name(obj)),
    ))
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

/// A JSON object from `(key, value)` pairs whose keys must be `str`.
fn object<'py>(
    items: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    len: usize,
    path: &mut String,
    depth: usize,
) -> PyResult<Value> {
    let mut map = Map::with_capacity(len);
    let base = path.len();
    for (key, value) in items {
        let Ok(key) = key.cast::<PyString>() else {
            let repr = key
                .repr()
                .map(|r| r.to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(type_error(
                path,
                format!(
                    "the key {repr} is a {}; JSON object keys must be str",
                    type_name(&key)
                ),
            ));
        };
        let Ok(key) = key.to_cow() else {
            return Err(type_error(
                path,
                "a key that is not valid Unicode cannot be sent as JSON".into(),
            ));
        };
        push_key(path, &key);
        let converted = convert(&value, path, depth + 1)?;
        path.truncate(base);
        map.insert(key.into_owned(), converted);
    }
    Ok(Value::Object(map))
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    path: &mut String,
    depth: usize,
) -> PyResult<Value> {
    let mut out = Vec::with_capacity(len);
    let base = path.len();
    for (i, item) in items.enumerate() {
        path.push_str(&format!("[{i}]"));
        out.push(convert(&item, path, depth + 1)?);
        path.truncate(base);
    }
    Ok(Value::Array(out))
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
