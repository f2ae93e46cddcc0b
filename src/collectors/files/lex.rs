//! Minimal structural JSON lexing: split an object into `(key, raw value text)` pairs and an array
//! into raw element texts, without building values. Values are validated when they are decoded
//! (or, for fields nobody reads, before they are copied into `extra_json`).

use std::borrow::Cow;

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

fn err(b: &[u8], i: usize, what: &str) -> String {
    let line = 1 + b[..i.min(b.len())].iter().filter(|c| **c == b'\n').count();
    format!("invalid JSON: {what} at line {line} (byte {i})")
}

/// Bytes that matter outside strings when looking for the end of a container.
pub(crate) static STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

/// End (exclusive) of the string starting at `i` (which must be `"`). Most of a record's bytes
/// are inside strings, so this jumps with memchr from quote/backslash to quote/backslash.
fn string_end(b: &[u8], i: usize) -> Result<usize, String> {
    let mut j = i + 1;
    while let Some(k) = memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
        let p = j + k;
        if b[p] == b'\\' {
            j = p + 2;
        } else {
            return Ok(p + 1);
        }
    }
    Err(err(b, i, "unterminated string"))
}

/// End (exclusive) of the value starting at `i`.
pub(crate) fn value_end(b: &[u8], i: usize) -> Result<usize, String> {
    match b.get(i) {
        None => Err(err(b, i, "missing value")),
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0u32;
            let mut j = i;
            while j < b.len() {
                let c = b[j];
                if !STRUCTURAL[c as usize] {
                    j += 1;
                    continue;
                }
                match c {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                }
                j += 1;
            }
            Err(err(b, i, "unclosed object or array"))
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                j += 1;
            }
            if j == i {
                return Err(err(b, i, "unexpected character"));
            }
            Ok(j)
        }
    }
}

/// The top-level fields of a JSON object.
pub(crate) fn object_fields(text: &str) -> Result<Vec<(Cow<'_, str>, &str)>, String> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(err(b, i, "expected an object"));
    }
    i = ws(b, i + 1);
    let mut out = Vec::with_capacity(32);
    if b.get(i) == Some(&b'}') {
        return finish(b, i + 1, out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(err(b, i, "expected a key"));
        }
        let kend = string_end(b, i)?;
        let raw_key = &text[i + 1..kend - 1];
        let key = if raw_key.contains('\\') {
            Cow::Owned(serde_json::from_str::<String>(&text[i..kend]).map_err(|e| err(b, i, &e.to_string()))?)
        } else {
            Cow::Borrowed(raw_key)
        };
        i = ws(b, kend);
        if b.get(i) != Some(&b':') {
            return Err(err(b, i, "expected ':'"));
        }
        i = ws(b, i + 1);
        let vend = value_end(b, i)?;
        out.push((key, &text[i..vend]));
        i = ws(b, vend);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => return finish(b, i + 1, out),
            _ => return Err(err(b, i, "expected ',' or '}'")),
        }
    }
}

fn finish<T>(b: &[u8], i: usize, out: T) -> Result<T, String> {
    let j = ws(b, i);
    if j != b.len() {
        return Err(err(b, j, "trailing characters after the object"));
    }
    Ok(out)
}

/// The elements of a JSON array, as raw texts with their byte offsets in `text`.
pub(crate) fn array_elements(text: &str) -> Result<Vec<(usize, &str)>, String> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err(err(b, i, "expected an array"));
    }
    i = ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let end = value_end(b, i)?;
        out.push((i, &text[i..end]));
        i = ws(b, end);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b']') => return Ok(out),
            _ => return Err(err(b, i, "expected ',' or ']'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_objects_and_arrays() {
        let f = object_fields(r#" {"a" : 1, "b\"c":"x}y", "d":[{"e":"]"}], "n":null} "#).unwrap();
        let keys: Vec<_> = f.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "b\"c", "d", "n"]);
        assert_eq!(f[2].1, r#"[{"e":"]"}]"#);
        let a = array_elements(r#"[ {"x":1} , 2 ]"#).unwrap();
        assert_eq!(a, vec![(2, r#"{"x":1}"#), (12, "2")]);
        assert!(object_fields(r#"{"a":1"#).is_err());
        assert!(object_fields(r#"{"a" 1}"#).is_err());
        assert!(object_fields(r#"{"a":1} x"#).is_err());
        assert!(object_fields("[]").is_err());
    }
}
