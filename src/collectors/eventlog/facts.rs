//! The stable facts found in event text: GUIDs, `TrackingId`s, HRESULTs, and the accounts of a
//! rendered Security-log message (reference/onprem-logs.md §1.4, §2.3).

/// The first GUID in a text, lower-case, without braces.
pub(crate) fn guid_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).find_map(|i| {
        let cand = &text.get(i..i + 36)?;
        let ok = cand.bytes().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
        let boundary = i == 0 || !b[i - 1].is_ascii_hexdigit();
        (ok && boundary).then(|| cand.to_ascii_lowercase())
    })
}

/// `TrackingId: <guid>` (any case, optional braces) anywhere in a message.
pub(crate) fn tracking_id_in(text: &str) -> Option<String> {
    if text.len() < "trackingid".len() + 36 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find("trackingid")?;
    let rest = &text[at + "trackingid".len()..];
    let rest = rest.trim_start_matches([':', '=', ' ', '\t', '{']);
    guid_in(rest.get(..rest.len().min(40))?)
}

/// The first 8-hex-digit HRESULT in a text: `0x80230619`, `hr=80230402`, `8023062C (…)`, returned
/// as `0x` + lower-case hex. Longer hex runs (keywords, GUID parts) are not HRESULTs.
///
/// One pass over the text's words (runs of ASCII letters and digits): only a word that no `-`
/// touches can be one, and then only as `0x` + 8 hex digits or as 8 bare hex digits.
pub(crate) fn hresult_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() < 8 {
        return None;
    }
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = &b[start..i];
        let free = (start == 0 || b[start - 1] != b'-') && b.get(i) != Some(&b'-');
        if !free || (word.len() != 8 && word.len() != 10) {
            continue;
        }
        let hex = |w: &[u8]| w.iter().all(u8::is_ascii_hexdigit);
        let found = match word {
            [b'0', b'x' | b'X', digits @ ..] if digits.len() == 8 => hex(digits).then_some(digits),
            [b'0', b'x' | b'X', ..] => None,
            // Bare runs count after `hr=` / `error`, or in the failure space (8xxxxxxx) when
            // they are not plain decimal numbers.
            digits if digits.len() == 8 && hex(digits) => (preceded_by_hr(text, start)
                || (digits[0] == b'8' && digits.iter().any(u8::is_ascii_alphabetic)))
            .then_some(digits),
            _ => None,
        };
        if let Some(digits) = found {
            let mut out = String::with_capacity(10);
            out.push_str("0x");
            out.extend(digits.iter().map(|c| char::from(c.to_ascii_lowercase())));
            return Some(out);
        }
    }
    None
}

fn preceded_by_hr(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '=', ':']).as_bytes();
    let ends = |w: &str| {
        before.len() >= w.len() && before[before.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
    };
    ends("hr") || ends("hresult") || ends("error")
}

/// Accounts from a rendered Security-log message ("Subject: … Account Name: … Target Account: …").
#[derive(Default)]
pub(crate) struct AccountSections {
    pub(crate) subject_account: Option<String>,
    pub(crate) subject_domain: Option<String>,
    pub(crate) target_account: Option<String>,
    pub(crate) target_domain: Option<String>,
}

impl AccountSections {
    pub(crate) fn parse(text: &str) -> Self {
        let mut out = Self::default();
        if text.is_empty() || !text.contains("Account Name:") {
            return out;
        }
        let mut section = "";
        for line in text.lines() {
            let t = line.trim();
            if t.ends_with(':') && !t.contains('\t') {
                section = if t.starts_with("Subject") {
                    "subject"
                } else if t.starts_with("Target") {
                    "target"
                } else {
                    ""
                };
                continue;
            }
            let Some((k, v)) = t.split_once(':') else { continue };
            let v = v.trim();
            if v.is_empty() || v == "-" {
                continue;
            }
            let slot = match (section, k.trim()) {
                ("subject", "Account Name") => &mut out.subject_account,
                ("subject", "Account Domain") => &mut out.subject_domain,
                ("target", "Account Name") => &mut out.target_account,
                ("target", "Account Domain") => &mut out.target_domain,
                _ => continue,
            };
            slot.get_or_insert_with(|| v.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hresults_are_found_in_every_documented_spelling() {
        let cases = [
            (r#"BAIL: MMS(4924) 0x80230619: "A restriction prevents""#, Some("0x80230619")),
            ("Synchronization Engine returned an error hr=80230402, message=…", Some("0x80230402")),
            ("hr=800700CE, message=The filename or extension is too long", Some("0x800700ce")),
            ("8023062C (0x8023062c) The password could not be set", Some("0x8023062c")),
            ("Keywords 0x8020000000000000 only", None),
            ("TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, Couldn't connect", None),
            ("record 80000001 of 90000000", None),
        ];
        for (text, want) in cases {
            assert_eq!(hresult_in(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn the_word_scanner_finds_what_the_bytewise_scan_found() {
        // Random texts over an alphabet dense in near-misses: hex runs of every length, `0x`,
        // `-`, `hr=`, `error`, non-ASCII.
        let parts = [
            "0x", "0X", "8", "0", "a", "F", "Z", "-", " ", "hr=", "error ", "é", "x", "80230619", "8023061",
            "\t", "(",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            let mut text = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut y = x;
            for _ in 0..(x % 12) {
                text.push_str(parts[(y % parts.len() as u64) as usize]);
                y /= parts.len() as u64;
                if y == 0 {
                    y = x.rotate_left(17);
                }
            }
            assert_eq!(hresult_in(&text), hresult_in_bytewise(&text), "{text:?}");
        }
    }

    /// The first version, byte by byte: the oracle for the word scanner.
    /// The first 8-hex-digit HRESULT in a text: `0x80230619`, `hr=80230402`, `8023062C (…)`, returned
    /// as `0x` + lower-case hex. Longer hex runs (keywords, GUID parts) are not HRESULTs.
    fn hresult_in_bytewise(text: &str) -> Option<String> {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let at_boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-');
            let prefixed = at_boundary && b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
            if !at_boundary || !(prefixed || b[i].is_ascii_hexdigit()) {
                i += 1;
                continue;
            }
            let start = if prefixed { i + 2 } else { i };
            let end = start + b[start..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            let run = &text[start..end];
            let after_ok = b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'-');
            // Bare runs count after `hr=` / `error`, or in the failure space (8xxxxxxx) when they are
            // not plain decimal numbers.
            let bare_ok = || {
                preceded_by_hr(text, i)
                    || (run.starts_with('8') && run.bytes().any(|c| c.is_ascii_alphabetic()))
            };
            if run.len() == 8 && after_ok && (prefixed || bare_ok()) {
                return Some(format!("0x{}", run.to_ascii_lowercase()));
            }
            i = end.max(i + 1);
        }
        None
    }
}
