//! A streaming splitter for JSON inputs: finds the top-level units of a file (one object, a
//! sequence of objects as in JSON lines, or the elements of a top-level array) without parsing
//! them, so memory is bounded by the largest unit (a Graph page or one record), never by the file.
//!
//! It tracks only string/escape state and bracket depth, so it runs at memory speed; the units are
//! then parsed in parallel. Every unit carries its 1-based start line and byte offset so that
//! problems can be reported and quarantined with their exact location.

use std::io::Read;

use crate::collectors::files::lex::STRUCTURAL;

/// One top-level JSON value of a file.
#[derive(Debug, Clone)]
pub struct Unit {
    pub bytes: Vec<u8>,
    /// 1-based line of the unit's first byte.
    pub line: u64,
    /// Byte offset of the unit's first byte.
    pub offset: u64,
}

/// A problem the splitter itself can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// The file ended inside a unit; the partial bytes are kept for quarantine.
    Truncated {
        line: u64,
        offset: u64,
        partial: Vec<u8>,
    },
    /// A byte that cannot start a JSON value where one was expected.
    Unexpected {
        line: u64,
        offset: u64,
        byte: u8,
    },
    Io(String),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Truncated { line, offset, .. } => write!(
                f,
                "file ends inside the JSON value that starts at line {line} (byte {offset}): truncated file"
            ),
            ScanError::Unexpected { line, offset, byte } => {
                write!(f, "unexpected {:?} at line {line} (byte {offset}): not JSON", char::from(*byte))
            }
            ScanError::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    Top,
    /// Inside a top-level array, between elements.
    TopArray,
    /// Inside a unit.
    Unit,
}

/// Splits a reader into units. Iterate it; after an error the iterator ends.
pub struct Splitter<R: Read> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    /// Absolute offset of `buf[0]`.
    base: u64,
    line: u64,
    mode: Mode,
    in_array: bool,
    done: bool,
    first: bool,
}

const CHUNK: usize = 1 << 20;

impl<R: Read> Splitter<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; CHUNK],
            pos: 0,
            len: 0,
            eof: false,
            base: 0,
            line: 1,
            mode: Mode::Top,
            in_array: false,
            done: false,
            first: true,
        }
    }

    fn fill(&mut self) -> Result<bool, ScanError> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.base += self.len as u64;
        self.pos = 0;
        self.len = 0;
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.len = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ScanError::Io(e.to_string())),
            }
        }
    }

    fn next_unit(&mut self) -> Result<Option<Unit>, ScanError> {
        // Skip separators until a unit starts.
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            let b = self.buf[self.pos];
            let at = self.base + self.pos as u64;
            if self.first && self.pos + 2 < self.len && self.buf[self.pos..self.pos + 3] == [0xEF, 0xBB, 0xBF]
            {
                self.pos += 3;
                continue;
            }
            self.first = false;
            match (self.mode, b) {
                (_, b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                (_, b' ' | b'\t' | b'\r') => self.pos += 1,
                (Mode::Top, b'[') if !self.in_array => {
                    self.in_array = true;
                    self.mode = Mode::TopArray;
                    self.pos += 1;
                }
                (Mode::TopArray, b',') => self.pos += 1,
                (Mode::TopArray, b']') => {
                    self.in_array = false;
                    self.mode = Mode::Top;
                    self.pos += 1;
                }
                (_, b'{' | b'[') => break,
                (_, byte) => {
                    return Err(ScanError::Unexpected { line: self.line, offset: at, byte });
                }
            }
        }
        let start_line = self.line;
        let start = self.base + self.pos as u64;
        let prev_mode = self.mode;
        self.mode = Mode::Unit;
        let mut out = Vec::with_capacity(4096);
        let mut depth: u32 = 0;
        let mut in_str = false;
        let mut esc = false;
        loop {
            if !self.fill()? {
                return Err(ScanError::Truncated { line: start_line, offset: start, partial: out });
            }
            let chunk = &self.buf[self.pos..self.len];
            let mut i = 0;
            let mut end = None;
            while i < chunk.len() {
                if in_str {
                    if esc {
                        esc = false;
                        i += 1;
                        continue;
                    }
                    // Jump to the next quote or backslash (raw newlines cannot occur in strings).
                    match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                        Some(k) => {
                            i += k;
                            if chunk[i] == b'\\' {
                                esc = true;
                            } else {
                                in_str = false;
                            }
                            i += 1;
                        }
                        None => i = chunk.len(),
                    }
                    continue;
                }
                let b = chunk[i];
                if b == b'\n' {
                    self.line += 1;
                } else if STRUCTURAL[b as usize] {
                    match b {
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        _ => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(i + 1);
                                break;
                            }
                        }
                    }
                }
                i += 1;
            }
            match end {
                Some(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    self.pos += n;
                    self.mode = prev_mode;
                    return Ok(Some(Unit { bytes: out, line: start_line, offset: start }));
                }
                None => {
                    out.extend_from_slice(chunk);
                    self.pos = self.len;
                }
            }
        }
    }
}

impl<R: Read> Iterator for Splitter<R> {
    type Item = Result<Unit, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_unit() {
            Ok(Some(u)) => Some(Ok(u)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<Result<(String, u64, u64), ScanError>> {
        Splitter::new(s.as_bytes())
            .map(|r| r.map(|u| (String::from_utf8(u.bytes).unwrap(), u.line, u.offset)))
            .collect()
    }

    #[test]
    fn json_lines_with_crlf_and_braces_in_strings() {
        let got = units("{\"a\":\"}{\"}\r\n{\"b\":[1,{\"c\":\"\\\"]\"}]}\r\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap().0, "{\"a\":\"}{\"}");
        let second = got[1].as_ref().unwrap();
        assert_eq!((second.1, second.2), (2, 12));
    }

    #[test]
    fn top_level_array_elements_are_units() {
        let got = units("\u{feff}[ {\"value\":[{\"id\":1}]},\n {\"value\":[]} ]");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].as_ref().unwrap().1, 2);
    }

    #[test]
    fn truncated_and_garbage_are_errors_with_location() {
        let got = units("{\"id\":1}\n{\"id\":");
        assert!(matches!(got[1], Err(ScanError::Truncated { line: 2, offset: 9, .. })));
        let got = units("{\"id\":1}\nnot json");
        assert!(matches!(got[1], Err(ScanError::Unexpected { line: 2, byte: b'n', .. })));
    }

    #[test]
    fn units_larger_than_the_read_chunk() {
        let big = format!("{{\"s\":\"{}\"}}", "x".repeat(3 * CHUNK));
        let got = units(&big);
        assert_eq!(got[0].as_ref().unwrap().0.len(), big.len());
    }
}
