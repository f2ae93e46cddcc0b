//! A cheap, order-preserving view of one JSON (or CSV) record: top-level keys with their raw,
//! unparsed values. Lookups are ASCII case-insensitive, so Graph (`activityDateTime`) and Log
//! Analytics (`ActivityDateTime`) spellings resolve through one mapping. Values are decoded only
//! when asked for, and the keys nobody asked for are re-emitted verbatim into an `extra_json`
//! column so nothing of the input is lost.

use std::borrow::Cow;
use std::fmt;

use crate::collectors::files::lex;

/// One field value: raw JSON text, or plain text from a CSV cell.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Raw(&'a str),
    Text(&'a str),
}

/// A record's top-level fields in input order.
#[derive(Debug, Default)]
pub(crate) struct RawObject<'a> {
    pub fields: Vec<(Cow<'a, str>, Val<'a>)>,
    used: Vec<bool>,
}

impl<'a> RawObject<'a> {
    /// Splits a JSON object's text into its fields (values stay raw).
    pub(crate) fn parse(text: &'a str) -> Result<Self, String> {
        let fields: Vec<_> = lex::object_fields(text)?.into_iter().map(|(k, v)| (k, Val::Raw(v))).collect();
        let used = vec![false; fields.len()];
        Ok(Self { fields, used })
    }
}

/// A field whose value has the wrong JSON type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {}: {}", self.field, self.message)
    }
}

impl<'a> RawObject<'a> {
    /// Builds a record from CSV headers and one row of cells.
    pub(crate) fn from_cells(headers: &'a [String], cells: &'a csv::StringRecord) -> Self {
        let fields: Vec<_> = headers
            .iter()
            .zip(cells.iter())
            .map(|(h, c)| (Cow::Borrowed(h.as_str()), Val::Text(c)))
            .collect();
        let used = vec![false; fields.len()];
        Self { fields, used }
    }

    fn find(&mut self, key: &str) -> Option<Val<'a>> {
        let i = self.fields.iter().position(|(k, _)| k.eq_ignore_ascii_case(key))?;
        self.used[i] = true;
        Some(self.fields[i].1)
    }

    /// Whether a key is present (does not mark it used).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
    }

    /// The first of `keys` that is present, as text. JSON strings are unescaped, `null` and empty
    /// strings are `None`, other JSON values are kept as their JSON text (nothing is lost).
    pub(crate) fn str(&mut self, keys: &[&str]) -> Option<Cow<'a, str>> {
        keys.iter().find_map(|k| self.find(k).and_then(val_text))
    }

    /// The first present key as a nested JSON value (objects in Graph; JSON-in-a-string in Log
    /// Analytics exports and CSV cells).
    pub(crate) fn json(&mut self, keys: &[&str]) -> Result<Option<serde_json::Value>, FieldError> {
        for k in keys {
            if let Some(v) = self.find(k) {
                return val_json(v).map_err(|message| FieldError { field: (*k).to_string(), message });
            }
        }
        Ok(None)
    }

    /// The JSON text of the first present key: the raw value, or the content of a JSON string
    /// holding JSON (Log Analytics dynamic columns). `None` for absent, `null` or blank.
    pub(crate) fn json_field_text<'k>(&mut self, keys: &[&'k str]) -> Option<(&'k str, Cow<'a, str>)> {
        for k in keys {
            if let Some(v) = self.find(k) {
                let text: Option<Cow<'a, str>> = match v {
                    Val::Raw("null") | Val::Text("") => None,
                    Val::Raw(r) if r.starts_with('"') => {
                        serde_json::from_str::<String>(r).ok().map(Cow::Owned)
                    }
                    Val::Raw(r) | Val::Text(r) => Some(Cow::Borrowed(r)),
                };
                return text.filter(|t| !t.trim().is_empty()).map(|t| (*k, t));
            }
        }
        None
    }

    /// The first present key as a boolean (`true`, or the strings `true`/`True`/`1` of CSV exports).
    pub(crate) fn bool(&mut self, keys: &[&str]) -> Result<Option<bool>, FieldError> {
        for k in keys {
            if let Some(v) = self.find(k) {
                let bad = |got: &str| FieldError {
                    field: (*k).to_string(),
                    message: format!("expected true or false, got {got}"),
                };
                return match v {
                    Val::Raw(r) => match r {
                        "true" => Ok(Some(true)),
                        "false" => Ok(Some(false)),
                        "null" => Ok(None),
                        other => match serde_json::from_str::<Cow<str>>(other) {
                            Ok(s) => parse_bool_text(&s).map_err(|_| bad(other)),
                            Err(_) => Err(bad(other)),
                        },
                    },
                    Val::Text(t) => parse_bool_text(t).map_err(|_| bad(t)),
                };
            }
        }
        Ok(None)
    }

    /// The raw JSON text of a present key (for `_json` columns), marking it used.
    pub(crate) fn raw_text(&mut self, keys: &[&str]) -> Option<Cow<'a, str>> {
        keys.iter().find_map(|k| {
            self.find(k).and_then(|v| match v {
                Val::Raw("null") => None,
                Val::Raw(r) if r.starts_with('"') => {
                    // JSON serialised into a string (Log Analytics): unwrap it.
                    serde_json::from_str::<Cow<str>>(r).ok().filter(|s| !s.is_empty())
                }
                Val::Raw(r) => Some(Cow::Borrowed(r)),
                Val::Text("") => None,
                Val::Text(t) => Some(Cow::Borrowed(t)),
            })
        })
    }

    /// Marks keys as consumed without reading them (values that are derived elsewhere).
    pub(crate) fn consume(&mut self, keys: &[&str]) {
        for k in keys {
            let _ = self.find(k);
        }
    }

    /// Every key nobody asked for, as one JSON object text (`None` when there is none).
    pub(crate) fn leftovers(&self, prefix: &str) -> Vec<(String, String)> {
        self.fields
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|((k, v), _)| {
                let text = match v {
                    Val::Raw(r) if serde_json::from_str::<serde::de::IgnoredAny>(r).is_ok() => r.to_string(),
                    Val::Raw(r) => serde_json::to_string(r).unwrap_or_default(),
                    Val::Text(t) => serde_json::to_string(t).unwrap_or_default(),
                };
                (format!("{prefix}{k}"), text)
            })
            .collect()
    }
}

/// Joins `(key, raw JSON)` pairs into one JSON object text.
pub(crate) fn object_text(pairs: &[(String, String)]) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let mut s = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 2);
    s.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k).unwrap_or_default());
        s.push(':');
        s.push_str(v);
    }
    s.push('}');
    Some(s)
}

fn parse_bool_text(t: &str) -> Result<Option<bool>, ()> {
    match t.trim() {
        "" => Ok(None),
        t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(Some(true)),
        t if t.eq_ignore_ascii_case("false") || t == "0" => Ok(Some(false)),
        _ => Err(()),
    }
}

fn val_text(v: Val<'_>) -> Option<Cow<'_, str>> {
    match v {
        Val::Raw(r) => {
            let s = r;
            if s == "null" {
                None
            } else if s.starts_with('"') {
                serde_json::from_str::<Cow<str>>(s).ok().filter(|s| !s.is_empty())
            } else {
                Some(Cow::Borrowed(s))
            }
        }
        Val::Text("") => None,
        Val::Text(t) => Some(Cow::Borrowed(t)),
    }
}

fn val_json(v: Val<'_>) -> Result<Option<serde_json::Value>, String> {
    let text: Cow<str> = match v {
        Val::Raw("null") => return Ok(None),
        Val::Raw(r) if r.starts_with('"') => {
            let s: String = serde_json::from_str(r).map_err(|e| e.to_string())?;
            if s.trim().is_empty() {
                return Ok(None);
            }
            Cow::Owned(s)
        }
        Val::Raw(r) => Cow::Borrowed(r),
        Val::Text(t) if t.trim().is_empty() => return Ok(None),
        Val::Text(t) => Cow::Borrowed(t),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| format!("is not valid JSON ({e})"))
}

/// Looks up `a.b.c` in a JSON value, case-insensitively, returning a non-empty string.
pub(crate) fn path_str<'v>(v: &'v serde_json::Value, path: &[&str]) -> Option<Cow<'v, str>> {
    let mut cur = v;
    for p in path {
        let obj = cur.as_object()?;
        cur = obj.get(*p).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(p)).map(|(_, v)| v))?;
    }
    match cur {
        serde_json::Value::String(s) if !s.is_empty() => Some(Cow::Borrowed(s.as_str())),
        serde_json::Value::Null | serde_json::Value::String(_) => None,
        other => Some(Cow::Owned(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive_and_leftovers_keep_the_rest() {
        let text = r#"{"Id":"x","ActivityDateTime":"2026-01-01T00:00:00Z","Level":"4","InitiatedBy":"{\"user\":{\"ipAddress\":\"1.2.3.4\"}}","n":null}"#;
        let mut o = RawObject::parse(text).unwrap();
        assert_eq!(o.str(&["id"]).as_deref(), Some("x"));
        let ib = o.json(&["initiatedBy"]).unwrap().unwrap();
        assert_eq!(path_str(&ib, &["user", "ipAddress"]).as_deref(), Some("1.2.3.4"));
        o.consume(&["activityDateTime"]);
        let left = o.leftovers("");
        assert_eq!(object_text(&left).unwrap(), r#"{"Level":"4","n":null}"#);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let mut o = RawObject::parse(r#"{"isAdmin":"maybe","t":{"a":1}}"#).unwrap();
        let e = o.bool(&["isAdmin"]).unwrap_err();
        assert_eq!(e.field, "isAdmin");
        assert_eq!(o.str(&["t"]).as_deref(), Some(r#"{"a":1}"#));
    }
}
