//! Pseudonymised export: identities become keyed tokens.
//!
//! Every value of an identity column (UPNs, display names, IP addresses, computer and account
//! names, domains, and user object ids when asked) becomes `p_` and the first 20 hex digits (80
//! bits) of HMAC-SHA256(key, the value in lower case). The same value gives the same token in
//! every table and every run with the same key, so relationships still join (a UPN in
//! `reset_attempts` matches it in `users`), and the engine's case-insensitive comparison cannot
//! merge two tokens. Free-text columns (event messages, error details, the JSON of audit
//! records, source file paths) keep their text with every identity the lake knows replaced by its
//! token, longest match first.
//!
//! What it protects: a reader of the export without the key cannot recover an identity from its
//! token, and the text around it no longer names anyone the lake knows. What it does not: it is
//! pseudonymisation, not anonymisation. Whoever has the key can test a guessed UPN; patterns
//! (times, departments, job titles, methods, outcomes) can still single a person out; an identity
//! the lake does not hold in any identity column (a name typed into free text) is not found.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Lake;
use crate::store::schema::{TableDef, all_tables};

/// The environment variable the key may come from (the config's `[export] pseudonym_key_file`
/// is the other way; never a flag, which would put it in shell history and process lists).
pub(crate) const KEY_ENV: &str = "SSPR_PSEUDONYM_KEY";
/// The shortest key accepted, in bytes.
const MIN_KEY: usize = 32;
/// Identities shorter than this are tokenised in their columns but not searched for in text
/// (three characters match too much unrelated text).
const MIN_SCRUB: usize = 4;

/// Columns whose values are identities.
const IDENTITY: &[&str] = &[
    "actor_upn",
    "target_upn",
    "user_principal_name",
    "actor_display_name",
    "target_display_name",
    "user_display_name",
    "display_name",
    "actor_ip",
    "ip",
    "computer",
    "subject",
    "target_account",
    "target_domain",
    "subject_account",
    "subject_domain",
];
/// Object ids, tokenised only when asked (they are not personal in themselves, and Graph
/// look-ups need them).
const IDS: &[&str] = &["actor_user_id", "target_user_id", "user_id", "principal_id"];
/// Free text that can mention identities.
const FREE_TEXT: &[&str] = &[
    "result_description",
    "additional_details_json",
    "target_resources_json",
    "initiated_by_json",
    "extra_json",
    "message",
    "event_data_json",
    "detail",
    "source_file",
    "failure_reason",
];

/// How an export was pseudonymised (in its manifest; never the key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Description {
    pub method: String,
    /// Identifies the key (the first 8 hex digits of HMAC(key, "sspr key id")), so two exports
    /// can be seen to join.
    pub key_id: String,
    pub columns: Vec<String>,
    pub free_text: Vec<String>,
}

/// A keyed pseudonymiser, and the identities of the lake it learned for free text.
pub(crate) struct Pseudonymizer {
    key: ring::hmac::Key,
    key_id: String,
    ids: bool,
    scrubber: Mutex<Option<(AhoCorasick, Vec<String>)>>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl Clone for Pseudonymizer {
    fn clone(&self) -> Self {
        let scrubber = self.scrubber.lock().expect("not poisoned").clone();
        Self {
            key: self.key.clone(),
            key_id: self.key_id.clone(),
            ids: self.ids,
            scrubber: Mutex::new(scrubber),
        }
    }
}

impl Pseudonymizer {
    /// A pseudonymiser with `key` (at least [`MIN_KEY`] bytes); `ids` tokenises object ids too.
    /// `origin` names where the key came from, for the error.
    pub(crate) fn new(key: &[u8], ids: bool, origin: &str) -> Result<Self> {
        let key = trim_ascii(key);
        if key.len() < MIN_KEY {
            return Err(Error::Config(format!(
                "{origin}: the pseudonymisation key has {} bytes; it needs at least {MIN_KEY} (e.g. `openssl rand -hex 32`)",
                key.len()
            )));
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let key_id = hex(ring::hmac::sign(&key, b"sspr key id").as_ref())[..8].to_string();
        Ok(Self { key, key_id, ids, scrubber: Mutex::new(None) })
    }

    /// The token of one value.
    fn token(&self, value: &str) -> String {
        let tag = ring::hmac::sign(&self.key, value.to_lowercase().as_bytes());
        format!("p_{}", &hex(tag.as_ref())[..20])
    }

    fn identity_columns(&self) -> Vec<&'static str> {
        let mut c = IDENTITY.to_vec();
        if self.ids {
            c.extend(IDS);
        }
        c
    }

    /// What the manifest says.
    pub(crate) fn describe(&self) -> Description {
        Description {
            method: "HMAC-SHA256, 80-bit tokens of the lower-cased value".into(),
            key_id: self.key_id.clone(),
            columns: self.identity_columns().iter().map(|c| c.to_string()).collect(),
            free_text: FREE_TEXT.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// Learns every identity in the lake's identity columns (of every table, exported or not: a
    /// derived table's message can name a user only the raw tables hold), to find them in text.
    pub(crate) async fn learn(&self, lake: &Lake) -> Result<()> {
        let columns = self.identity_columns();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for table in all_tables() {
            let schema = table.schema();
            let wanted: Vec<usize> = columns.iter().filter_map(|c| schema.index_of(c).ok()).collect();
            if wanted.is_empty() {
                continue;
            }
            for file in lake.list_files(table).await? {
                if !file.rel.ends_with(".parquet") {
                    continue;
                }
                let batches = crate::store::lake::decode(lake.read_object(&file.key).await?)?;
                for b in &batches {
                    for name in columns.iter().filter(|c| b.schema().index_of(c).is_ok()) {
                        let col = b.column(b.schema().index_of(name).expect("checked"));
                        for v in strings(col)?.into_iter().flatten() {
                            if v.chars().count() >= MIN_SCRUB {
                                seen.entry(v.to_lowercase()).or_insert_with(|| self.token(&v));
                            }
                        }
                    }
                }
            }
        }
        let (patterns, tokens): (Vec<String>, Vec<String>) = seen.into_iter().unzip();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| Error::Config(format!("pseudonymisation: {e}")))?;
        *self.scrubber.lock().expect("not poisoned") = Some((ac, tokens));
        Ok(())
    }

    /// Text with every learned identity replaced by its token.
    fn scrub(&self, text: &str) -> String {
        let guard = self.scrubber.lock().expect("not poisoned");
        match guard.as_ref() {
            Some((ac, tokens)) => ac.replace_all(text, tokens),
            None => text.to_string(),
        }
    }

    /// A lake file of `table` with its identity columns tokenised and its free text scrubbed.
    pub(crate) fn rewrite(&self, table: &TableDef, name: &str, bytes: Bytes) -> Result<Bytes> {
        let bad =
            |e: Error| Error::Table { table: name.to_string(), message: format!("pseudonymising: {e}") };
        let batches = crate::store::lake::decode(bytes).map_err(bad)?;
        let identity = self.identity_columns();
        let mut out = Vec::with_capacity(batches.len());
        for b in batches {
            let schema = b.schema();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(b.num_columns());
            for (field, col) in schema.fields().iter().zip(b.columns()) {
                let name = field.name().as_str();
                let mapped: Option<ArrayRef> = if identity.contains(&name) {
                    Some(map_strings(col, |v| self.token(v))?)
                } else if FREE_TEXT.contains(&name) {
                    Some(map_strings(col, |v| self.scrub(v))?)
                } else {
                    None
                };
                columns.push(mapped.unwrap_or_else(|| col.clone()));
            }
            out.push(RecordBatch::try_new(schema, columns)?);
        }
        crate::store::writer::encode(table, &out)
    }
}

/// The values of a string column (Utf8 or Utf8View), `None` for NULLs.
fn strings(col: &ArrayRef) -> Result<Vec<Option<String>>> {
    let col = datafusion::arrow::compute::cast(col, &DataType::Utf8)?;
    let s = col.as_string::<i32>();
    Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_string())).collect())
}

/// A string column with `f` applied to every non-NULL value, in the column's own type.
fn map_strings(col: &ArrayRef, f: impl Fn(&str) -> String) -> Result<ArrayRef> {
    let values: StringArray = strings(col)?.iter().map(|v| v.as_deref().map(&f)).collect();
    Ok(datafusion::arrow::compute::cast(&values, col.data_type())?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_keyed_stable_and_case_blind() {
        let p = Pseudonymizer::new(&[7u8; 32], false, "test").unwrap();
        let q = Pseudonymizer::new(&[8u8; 32], false, "test").unwrap();
        let t = p.token("Jan.Maes@contoso.example");
        assert_eq!(t, p.token("jan.maes@CONTOSO.example"), "case-blind");
        assert_eq!(t.len(), 22);
        assert!(t.starts_with("p_"));
        assert_ne!(t, q.token("jan.maes@contoso.example"), "another key, another token");
        let e = Pseudonymizer::new(b"short", false, "SSPR_PSEUDONYM_KEY").unwrap_err().to_string();
        assert!(e.contains("SSPR_PSEUDONYM_KEY") && e.contains("32"), "{e}");
        assert_ne!(p.describe().key_id, q.describe().key_id);
    }

    #[test]
    fn text_is_scrubbed_longest_first() {
        let p = Pseudonymizer::new(&[1u8; 40], false, "test").unwrap();
        let patterns = vec!["contoso".to_string(), "jan.maes@contoso.example".to_string()];
        let tokens: Vec<String> = patterns.iter().map(|v| p.token(v)).collect();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .unwrap();
        *p.scrubber.lock().unwrap() = Some((ac, tokens));
        let out = p.scrub("Reset of JAN.MAES@contoso.example by CONTOSO\\admin");
        assert_eq!(
            out,
            format!("Reset of {} by {}\\admin", p.token("jan.maes@contoso.example"), p.token("contoso"))
        );
    }
}
