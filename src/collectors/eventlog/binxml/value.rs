//! Substitution values rendered as the `evtx` crate writes them into XML, read back as the XML
//! reader reads them (so both paths give the same record).

use std::fmt::Write as _;

use super::Decline;
pub(crate) use crate::evtx_format::vt;

/// 100 ns ticks between 1601-01-01 and 1970-01-01.
pub(super) const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;
/// 10000-01-01T00:00:00Z as a FILETIME: later times do not render as four-digit years.
const FILETIME_MAX: u64 = 2_650_467_744_000_000_000;

/// A substitution value: its type and bytes.
pub(super) type Value<'a> = (u8, &'a [u8]);

/// Appends text as the XML reader would read it back from the crate's rendering: line ends
/// normalised (in attributes, whitespace as spaces), characters XML cannot carry as `_`.
pub(super) fn push_normalised(out: &mut String, s: &str, attr: bool) {
    if !s.bytes().any(|b| b < 0x20) && !s.contains(['\u{FFFE}', '\u{FFFF}']) {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(if attr { ' ' } else { '\n' });
            }
            '\n' | '\t' if attr => out.push(' '),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('_'),
            c => out.push(c),
        }
    }
}

/// A string value: UTF-16LE up to its first NUL, as [`push_normalised`] puts text. Printable ASCII,
/// nearly every value in a log, is copied as it is.
pub(super) fn push_string(out: &mut String, b: &[u8], attr: bool) {
    let mut ascii = true;
    let mut n = 0;
    for u in b.chunks_exact(2) {
        if u == [0, 0] {
            break;
        }
        ascii &= u[1] == 0 && (0x20..0x80).contains(&u[0]);
        n += 1;
    }
    let units = &b[..2 * n];
    if ascii {
        // Narrowed through a small buffer: extending a String char by char is several times
        // slower, and printable ASCII always passes the UTF-8 check.
        out.reserve(n);
        let mut buf = [0u8; 64];
        for part in units.chunks(2 * buf.len()) {
            let k = part.len() / 2;
            for (b, u) in buf.iter_mut().zip(part.chunks_exact(2)) {
                *b = u[0];
            }
            out.push_str(std::str::from_utf8(&buf[..k]).unwrap_or_default());
        }
    } else {
        let mut s = String::with_capacity(n);
        push_utf16(&mut s, units);
        push_normalised(out, &s, attr);
    }
}

/// UTF-16LE into `out`, a lone surrogate as `_` (as the crate renders it).
pub(super) fn push_utf16(out: &mut String, units: &[u8]) {
    let it = units.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
    for c in char::decode_utf16(it) {
        out.push(c.unwrap_or('_'));
    }
}

/// Renders one value as the crate writes it into XML (then read back by the XML reader).
pub(super) fn render(out: &mut String, ty: u8, b: &[u8], attr: bool) -> Result<(), Decline> {
    macro_rules! int {
        ($t:ty, $n:expr) => {{
            let a: [u8; $n] = b.try_into().map_err(|_| "integer size")?;
            out.push_str(itoa::Buffer::new().format(<$t>::from_le_bytes(a)));
        }};
    }
    match ty {
        vt::NULL => {}
        vt::STRING => push_string(out, b, attr),
        vt::INT8 => int!(i8, 1),
        vt::UINT8 => int!(u8, 1),
        vt::INT16 => int!(i16, 2),
        vt::UINT16 => int!(u16, 2),
        vt::INT32 => int!(i32, 4),
        vt::UINT32 => int!(u32, 4),
        vt::INT64 => int!(i64, 8),
        vt::UINT64 => int!(u64, 8),
        vt::BOOL => {
            let a: [u8; 4] = b.try_into().map_err(|_| "bool size")?;
            match i32::from_le_bytes(a) {
                0 => out.push_str("false"),
                1 => out.push_str("true"),
                n => {
                    let _ = write!(out, "{n}");
                }
            }
        }
        vt::BINARY => {
            for x in b {
                let _ = write!(out, "{x:02X}");
            }
        }
        vt::GUID => {
            let g: [u8; 16] = b.try_into().map_err(|_| "GUID size")?;
            let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
            let d2 = u16::from_le_bytes([g[4], g[5]]);
            let d3 = u16::from_le_bytes([g[6], g[7]]);
            let _ = write!(out, "{{{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-", g[8], g[9]);
            for x in &g[10..] {
                let _ = write!(out, "{x:02x}");
            }
            out.push('}');
        }
        vt::SIZE_T | vt::HEX_INT32 | vt::HEX_INT64 => {
            let v = match b.len() {
                4 => u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes"))),
                8 => u64::from_le_bytes(b.try_into().expect("8 bytes")),
                _ => return Err("hex integer size"),
            };
            if ty == vt::HEX_INT32 && b.len() != 4 || ty == vt::HEX_INT64 && b.len() != 8 {
                return Err("hex integer size");
            }
            out.push_str("0x");
            push_hex(out, v);
        }
        vt::FILETIME => {
            let a: [u8; 8] = b.try_into().map_err(|_| "FILETIME size")?;
            let ticks = u64::from_le_bytes(a);
            if ticks >= FILETIME_MAX {
                return Err("FILETIME past year 9999");
            }
            // 1601-01-01 is 134774 days before 1970-01-01.
            let secs = (ticks / 10_000_000) as i64 - 11_644_473_600;
            let t = chrono::DateTime::from_timestamp(secs, 0).ok_or("FILETIME")?;
            let _ = write!(out, "{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), ticks % 10_000_000);
        }
        vt::SID => {
            let [rev, n, a @ ..] = b else {
                out.push_str("S-?");
                return Ok(());
            };
            if a.len() < 6 {
                out.push_str("S-?");
                return Ok(());
            }
            // Written digit by digit: a Security event carries two or three SIDs, and `write!`
            // costs several times more per number.
            let auth = u64::from_be_bytes([0, 0, a[0], a[1], a[2], a[3], a[4], a[5]]);
            let mut digits = itoa::Buffer::new();
            out.push_str("S-");
            out.push_str(digits.format(*rev));
            out.push('-');
            out.push_str(digits.format(auth));
            for sub in a[6..].chunks_exact(4).take(usize::from(*n)) {
                out.push('-');
                out.push_str(digits.format(u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]])));
            }
        }
        _ => return Err("value type this reader does not handle"),
    }
    Ok(())
}

/// `v` in lower-case hex without leading zeros (as `{:x}` writes it).
fn push_hex(out: &mut String, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut at = buf.len();
    let mut v = v;
    loop {
        at -= 1;
        buf[at] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// A FILETIME value as microseconds since the Unix epoch (floor, as parsing its 100 ns rendering
/// does).
pub(super) fn filetime_micros(b: &[u8]) -> Result<i64, Decline> {
    let a: [u8; 8] = b.try_into().map_err(|_| "FILETIME size")?;
    let ticks = u64::from_le_bytes(a);
    if !(FILETIME_UNIX_EPOCH..FILETIME_MAX).contains(&ticks) {
        return Err("TimeCreated outside 1970..9999");
    }
    Ok(((ticks - FILETIME_UNIX_EPOCH) / 10) as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_what_the_formatter_writes() {
        for v in [0u64, 1, 0xf, 0x10, 0x3e7, 0xdead_beef, u64::MAX, 1 << 63] {
            let mut s = String::new();
            super::push_hex(&mut s, v);
            assert_eq!(s, format!("{v:x}"));
        }
    }
}
