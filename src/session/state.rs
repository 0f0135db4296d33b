//! The session's data and the rules that change it (design.md §3.4): state
//! entries with their expiry, the location hint, the ECID and the collect
//! consent. Pure data: no locks, no I/O, time passed in as milliseconds since
//! the Unix epoch so the rules are testable and the file format can hold it.

use crate::request::StateEntry;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Default lifetime of a location hint when the server gives none (edge-api.md §4).
pub const DEFAULT_HINT_TTL_MS: u64 = 1800 * 1000;

/// One stored `state:store` entry, or the record that it was deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: Option<String>,
    /// `None`: no `maxAge` was given, so it lives as long as this process and is
    /// never persisted.
    pub expires_at_ms: Option<u64>,
    /// When this client last changed it; merging with another process keeps the newer.
    pub updated_at_ms: u64,
    /// A deletion (`maxAge` ≤ 0), kept so a merge does not bring the entry back.
    pub deleted: bool,
}

impl Entry {
    fn live(&self, now_ms: u64) -> bool {
        !self.deleted && self.expires_at_ms.is_none_or(|e| e > now_ms)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub value: String,
    pub expires_at_ms: u64,
}

/// What a change did to the session, for deciding whether the state file
/// must be written. Ordered: combining changes keeps the larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Nothing the file holds changed (or nothing at all, or only entries
    /// that live in memory).
    None,
    /// Only expiries and timestamps moved: the same entries, values, hint,
    /// ECID and consent. Worth writing now and then, not on every call.
    Refresh,
    /// Something the file holds changed: it must be written.
    Material,
}

/// Everything a session holds. `Default` is a new visitor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionData {
    pub entries: BTreeMap<String, Entry>,
    pub hint: Option<Hint>,
    pub ecid: Option<String>,
    /// The collect consent value (`y`, `n`, `p`, ...), when one was given.
    pub consent: Option<String>,
    pub consent_updated_at_ms: u64,
    /// The last reset; anything changed before it is gone.
    pub reset_at_ms: u64,
}

impl SessionData {
    /// The unexpired entries, to send in `meta.state.entries`.
    pub fn entries_to_send(&self, now_ms: u64) -> Vec<StateEntry> {
        self.entries
            .iter()
            .filter(|(_, e)| e.live(now_ms))
            .map(|(k, e)| StateEntry {
                key: k.clone(),
                value: e.value.clone(),
            })
            .collect()
    }

    /// The location hint while it is valid.
    pub fn hint(&self, now_ms: u64) -> Option<&str> {
        self.hint
            .as_ref()
            .filter(|h| h.expires_at_ms > now_ms)
            .map(|h| h.value.as_str())
    }

    /// Whether this visitor has an identity: a known ECID or an identity state entry.
    pub fn has_identity(&self, now_ms: u64) -> bool {
        self.ecid.is_some()
            || self
                .entries
                .iter()
                .any(|(k, e)| e.live(now_ms) && is_identity_key(k))
    }

    /// Takes what a successful response says about the session: `state:store`,
    /// the EdgeNetwork `locationHint:result`, the ECID of `identity:result` and
    /// the collect value of `consent:preferences`. Says what changed, without
    /// comparing the whole session.
    pub fn apply_response(&mut self, result: &Value, now_ms: u64) -> Change {
        let mut change = Change::None;
        for handle in result["handle"].as_array().into_iter().flatten() {
            let payload = handle["payload"].as_array().into_iter().flatten();
            match handle["type"].as_str() {
                Some("state:store") => {
                    for item in payload {
                        change = change.max(self.store(item, now_ms));
                    }
                }
                Some("locationHint:result") => {
                    for item in payload {
                        let scope = item["scope"].as_str().unwrap_or_default();
                        if let (true, Some(hint)) = (
                            scope.eq_ignore_ascii_case("EdgeNetwork"),
                            item["hint"].as_str().filter(|h| valid_hint(h)),
                        ) {
                            let ttl_ms = item["ttlSeconds"]
                                .as_u64()
                                .filter(|t| *t > 0)
                                .map_or(DEFAULT_HINT_TTL_MS, |t| t.saturating_mul(1000));
                            let expires_at_ms = now_ms.saturating_add(ttl_ms);
                            change = change.max(match &mut self.hint {
                                Some(h) if h.value == hint => {
                                    h.expires_at_ms = expires_at_ms;
                                    Change::Refresh
                                }
                                _ => {
                                    self.hint = Some(Hint {
                                        value: hint.to_string(),
                                        expires_at_ms,
                                    });
                                    Change::Material
                                }
                            });
                        }
                    }
                }
                Some("identity:result") => {
                    for item in payload {
                        if item["namespace"]["code"] == "ECID" {
                            if let Some(id) = item["id"].as_str().filter(|s| !s.is_empty()) {
                                if self.ecid.as_deref() != Some(id) {
                                    self.ecid = Some(id.to_string());
                                    change = Change::Material;
                                }
                            }
                        }
                    }
                }
                Some("consent:preferences") => {
                    for item in payload {
                        if let Some(val) = item["collect"]["val"].as_str() {
                            change = change.max(self.set_consent(val, now_ms));
                        }
                    }
                }
                _ => {}
            }
        }
        change
    }

    fn store(&mut self, item: &Value, now_ms: u64) -> Change {
        let Some(key) = item["key"].as_str().filter(|k| !k.is_empty()) else {
            return Change::None;
        };
        let value = item["value"].as_str().map(str::to_string);
        let entry = match max_age_seconds(&item["maxAge"]) {
            Some(age) if age <= 0 => Entry {
                value: None,
                expires_at_ms: Some(now_ms),
                updated_at_ms: now_ms,
                deleted: true,
            },
            Some(age) => Entry {
                value,
                expires_at_ms: Some(now_ms.saturating_add(age.unsigned_abs().saturating_mul(1000))),
                updated_at_ms: now_ms,
                deleted: false,
            },
            None => Entry {
                value,
                expires_at_ms: None,
                updated_at_ms: now_ms,
                deleted: false,
            },
        };
        let persisted = entry.expires_at_ms.is_some();
        match self.entries.get_mut(key) {
            Some(old) => {
                let was_persisted = old.expires_at_ms.is_some();
                let same = old.value == entry.value
                    && old.deleted == entry.deleted
                    && was_persisted == persisted;
                *old = entry;
                match (same, persisted || was_persisted) {
                    (_, false) => Change::None,
                    (true, true) => Change::Refresh,
                    (false, true) => Change::Material,
                }
            }
            None => {
                self.entries.insert(key.to_string(), entry);
                if persisted {
                    Change::Material
                } else {
                    Change::None
                }
            }
        }
    }

    /// Records the collect consent; the same value again only refreshes its time.
    pub fn set_consent(&mut self, value: &str, now_ms: u64) -> Change {
        let change = if self.consent.as_deref() == Some(value) {
            Change::Refresh
        } else {
            self.consent = Some(value.to_string());
            Change::Material
        };
        self.consent_updated_at_ms = now_ms;
        change
    }

    /// Forgets the visitor: entries, hint, ECID and consent.
    pub fn reset(&mut self, now_ms: u64) {
        *self = SessionData {
            reset_at_ms: now_ms,
            ..SessionData::default()
        };
    }

    /// Drops deletions and expired entries that no longer matter.
    pub fn prune(&mut self, now_ms: u64) {
        const TOMBSTONE_MS: u64 = 24 * 3600 * 1000;
        self.entries.retain(|_, e| {
            if e.deleted {
                e.updated_at_ms.saturating_add(TOMBSTONE_MS) > now_ms
            } else {
                e.expires_at_ms.is_none_or(|x| x > now_ms)
            }
        });
    }

    /// Folds in what another process wrote: per key the newer record wins; a
    /// later reset there clears what was changed here before it.
    pub fn merge_from(&mut self, other: &SessionData) {
        if other.reset_at_ms > self.reset_at_ms {
            let reset = other.reset_at_ms;
            self.entries.retain(|_, e| e.updated_at_ms > reset);
            if self.consent_updated_at_ms <= reset {
                self.consent = None;
            }
            self.ecid = None;
            self.hint = None;
            self.reset_at_ms = reset;
        }
        for (key, theirs) in &other.entries {
            if theirs.updated_at_ms <= self.reset_at_ms {
                continue;
            }
            let newer = self
                .entries
                .get(key)
                .is_none_or(|mine| theirs.updated_at_ms > mine.updated_at_ms);
            if newer {
                self.entries.insert(key.clone(), theirs.clone());
            }
        }
        if self.ecid.is_none() {
            self.ecid = other.ecid.clone();
        }
        let later_hint = match (&self.hint, &other.hint) {
            (None, Some(_)) => true,
            (Some(mine), Some(theirs)) => theirs.expires_at_ms > mine.expires_at_ms,
            _ => false,
        };
        if later_hint {
            self.hint = other.hint.clone();
        }
        if other.consent_updated_at_ms > self.consent_updated_at_ms && other.consent.is_some() {
            self.consent = other.consent.clone();
            self.consent_updated_at_ms = other.consent_updated_at_ms;
        }
    }

    /// The read-only view of `aep_edge_session_get` (without client-level facts).
    pub fn view(&self, now_ms: u64) -> Value {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .filter(|(_, e)| e.live(now_ms))
            .map(|(k, e)| {
                json!({
                    "key": k,
                    "value": e.value,
                    "maxAge": e.expires_at_ms.map(|x| (x - now_ms) / 1000),
                    "persistent": e.expires_at_ms.is_some(),
                })
            })
            .collect();
        json!({
            "ecid": self.ecid,
            "locationHint": self.hint.as_ref().filter(|h| h.expires_at_ms > now_ms).map(|h| json!({
                "hint": h.value,
                "expiresInMs": h.expires_at_ms - now_ms,
            })),
            "entries": entries,
        })
    }
}

/// A `maxAge` in whole seconds, clamped into `i64`: numbers beyond it (2^63,
/// 1e308) saturate, fractions are cut; anything but a number is no `maxAge`.
fn max_age_seconds(value: &Value) -> Option<i64> {
    if let Some(age) = value.as_i64() {
        return Some(age);
    }
    if value.as_u64().is_some() {
        return Some(i64::MAX);
    }
    // `as` from f64 saturates (and maps NaN to 0, which JSON cannot hold).
    value.as_f64().map(|f| f as i64)
}

/// `kndctr_<org>_identity`: the Edge Network's identity entry for an org.
pub fn is_identity_key(key: &str) -> bool {
    key.starts_with("kndctr_") && key.ends_with("_identity")
}

/// A hint is a path segment: letters and digits only, so it cannot change the URL.
fn valid_hint(hint: &str) -> bool {
    !hint.is_empty() && hint.len() <= 32 && hint.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(handles: Value) -> Value {
        json!({ "handle": handles })
    }

    #[test]
    fn state_store_entries_expire_and_max_age_zero_deletes() {
        let mut s = SessionData::default();
        s.apply_response(
            &response(json!([{"type": "state:store", "payload": [
                {"key": "kndctr_X_AdobeOrg_identity", "value": "id", "maxAge": 100},
                {"key": "session-only", "value": "s"},
                {"key": "short", "value": "x", "maxAge": 1}
            ]}])),
            1_000,
        );
        let keys = |s: &SessionData, now| -> Vec<String> {
            s.entries_to_send(now).into_iter().map(|e| e.key).collect()
        };
        assert_eq!(
            keys(&s, 1_500),
            ["kndctr_X_AdobeOrg_identity", "session-only", "short"]
        );
        assert_eq!(
            keys(&s, 2_500),
            ["kndctr_X_AdobeOrg_identity", "session-only"]
        );
        assert!(s.has_identity(2_500));

        s.apply_response(
            &response(json!([{"type": "state:store", "payload": [
                {"key": "kndctr_X_AdobeOrg_identity", "maxAge": 0}
            ]}])),
            3_000,
        );
        assert_eq!(keys(&s, 3_000), ["session-only"]);
        assert!(!s.has_identity(3_000));
    }

    #[test]
    fn absurd_max_age_and_ttl_values_saturate() {
        let mut s = SessionData::default();
        let now = 1_000;
        s.apply_response(
            &serde_json::from_str(
                r#"{"handle": [
                {"type": "state:store", "payload": [
                    {"key": "huge", "value": "a", "maxAge": 9223372036854775808},
                    {"key": "float", "value": "b", "maxAge": 1e308},
                    {"key": "gone", "value": "c", "maxAge": -1e308},
                    {"key": "text", "value": "d", "maxAge": "9"}
                ]},
                {"type": "locationHint:result", "payload": [
                    {"scope": "EdgeNetwork", "hint": "or2", "ttlSeconds": 9223372036854775808}
                ]}
            ]}"#,
            )
            .unwrap(),
            now,
        );
        assert_eq!(s.entries["huge"].expires_at_ms, Some(u64::MAX));
        assert_eq!(s.entries["float"].expires_at_ms, Some(u64::MAX));
        assert!(s.entries["gone"].deleted);
        assert_eq!(
            s.entries["text"].expires_at_ms, None,
            "not a number: no maxAge"
        );
        assert_eq!(s.hint(u64::MAX - 1), Some("or2"));
        let view = s.view(now);
        assert_eq!(view["entries"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn hint_ecid_and_consent_come_from_their_handles() {
        let mut s = SessionData::default();
        let fixture: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/response-identity-acquire-200.json"
        ))
        .unwrap();
        assert_eq!(s.apply_response(&fixture, 0), Change::Material);
        assert_eq!(s.hint(0), Some("or2"));
        assert_eq!(s.hint(1_800_000), None, "the TTL ended");
        assert_eq!(
            s.clone().apply_response(&fixture, 5),
            Change::Refresh,
            "the same answer again only moves expiries"
        );
        assert_eq!(
            s.ecid.as_deref(),
            Some("41861666193140161934276845651148876988")
        );

        s.apply_response(
            &response(json!([
                {"type": "consent:preferences", "payload": [{"collect": {"val": "n"}}]},
                {"type": "locationHint:result", "payload": [{"scope": "EdgeNetwork", "hint": "va6"}]}
            ])),
            10,
        );
        assert_eq!(s.consent.as_deref(), Some("n"));
        assert_eq!(
            s.hint.as_ref().unwrap().expires_at_ms,
            10 + DEFAULT_HINT_TTL_MS
        );
    }

    #[test]
    fn a_hint_that_is_not_a_path_segment_is_ignored() {
        let mut s = SessionData::default();
        s.apply_response(
            &response(json!([{"type": "locationHint:result", "payload": [{"scope": "EdgeNetwork", "hint": "../x"}]}])),
            0,
        );
        assert_eq!(s.hint, None);
    }

    #[test]
    fn merge_keeps_the_newer_record_per_key_and_honours_resets() {
        let entry = |v: &str, at| Entry {
            value: Some(v.into()),
            expires_at_ms: Some(1_000_000),
            updated_at_ms: at,
            deleted: false,
        };
        let mut mine = SessionData::default();
        mine.entries.insert("a".into(), entry("mine", 10));
        mine.entries.insert("b".into(), entry("mine", 30));
        let mut theirs = SessionData::default();
        theirs.entries.insert("a".into(), entry("theirs", 20));
        theirs.entries.insert("b".into(), entry("theirs", 20));
        theirs.entries.insert("c".into(), entry("theirs", 20));
        theirs.ecid = Some("E".into());
        mine.merge_from(&theirs);
        assert_eq!(mine.entries["a"].value.as_deref(), Some("theirs"));
        assert_eq!(mine.entries["b"].value.as_deref(), Some("mine"));
        assert_eq!(mine.entries["c"].value.as_deref(), Some("theirs"));
        assert_eq!(mine.ecid.as_deref(), Some("E"));

        let mut reset = SessionData::default();
        reset.reset(40);
        mine.merge_from(&reset);
        assert!(mine.entries.is_empty());
        assert_eq!(mine.ecid, None);
    }

    #[test]
    fn only_what_the_file_holds_counts_as_a_material_change() {
        let store = |items: Value| response(json!([{"type": "state:store", "payload": items}]));
        let mut s = SessionData::default();
        assert_eq!(
            s.apply_response(&store(json!([{"key": "mem", "value": "1"}])), 0),
            Change::None,
            "an entry without maxAge lives in memory only"
        );
        assert_eq!(
            s.apply_response(&store(json!([{"key": "mem", "value": "2"}])), 1),
            Change::None
        );
        assert_eq!(
            s.apply_response(&store(json!([{"key": "k", "value": "v", "maxAge": 60}])), 2),
            Change::Material
        );
        assert_eq!(
            s.apply_response(&store(json!([{"key": "k", "value": "v", "maxAge": 60}])), 3),
            Change::Refresh
        );
        assert_eq!(
            s.entries["k"].expires_at_ms,
            Some(3 + 60_000),
            "the expiry moved"
        );
        assert_eq!(
            s.apply_response(&store(json!([{"key": "k", "value": "w", "maxAge": 60}])), 4),
            Change::Material
        );
        assert_eq!(
            s.apply_response(&store(json!([{"key": "k", "value": "w"}])), 5),
            Change::Material,
            "no longer persisted: the file must lose it"
        );
        assert_eq!(
            s.apply_response(&store(json!([{"key": "k", "maxAge": 0}])), 6),
            Change::Material
        );
        assert_eq!(s.set_consent("y", 7), Change::Material);
        assert_eq!(s.set_consent("y", 8), Change::Refresh);
        assert_eq!(s.consent_updated_at_ms, 8);
    }
}
