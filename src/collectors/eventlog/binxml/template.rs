//! Template definitions compiled into element operations, once per chunk (MS-EVEN6 §2.2.12), and
//! the shortcuts for elements whose effect on a record the template alone tells.

use std::rc::Rc;

pub(crate) use crate::evtx_format::tok;
use crate::evtx_format::vt;

use super::value::{Value, push_normalised, push_utf16, render};
use super::{Decline, u16le, u32le};

/// One piece of element content or attribute value.
#[derive(Debug)]
pub(super) enum Piece {
    Lit(String),
    Sub(u16),
}

/// Renders one piece: a literal, or the value it substitutes.
pub(super) fn render_piece(
    out: &mut String,
    piece: &Piece,
    values: &[Value<'_>],
    attr: bool,
) -> Result<(), Decline> {
    match piece {
        Piece::Lit(s) => {
            push_normalised(out, s, attr);
            Ok(())
        }
        // A substitution past the values renders as nothing, as the crate does.
        Piece::Sub(id) => match values.get(usize::from(*id)) {
            Some((ty, b)) => render(out, *ty, b, attr),
            None => Ok(()),
        },
    }
}

#[derive(Debug)]
pub(super) enum Op {
    /// An element start; `end` is the index of its `Close`, so a left-out element is skipped.
    Open {
        name: Rc<str>,
        attrs: Vec<(String, Vec<Piece>)>,
        dependency: Option<u16>,
        end: usize,
        /// The substitution that is the element's whole content, if one is: a string array
        /// there repeats the element once per item (MS-EVEN6 §3.1.4.7.5).
        only: Option<u16>,
    },
    Text(Piece),
    Close,
}

/// An element start tag being read: name, attributes (name, value pieces), dependency id.
pub(super) type StartTag = (String, Vec<(String, Vec<Piece>)>, Option<u16>);

/// A compiled template definition.
#[derive(Debug)]
pub(super) struct Program {
    pub(super) ops: Vec<Op>,
    /// Per op: a shortcut for an element whose effect on the record is known from the template
    /// alone (the `System` fields, `EventData/Data`), taken when its value has the expected type.
    pub(super) fast: Vec<Option<Fast>>,
    /// The substitutions of `System/Provider/@Name`, `System/Channel` and `System/EventID` when
    /// all three are shortcuts: what `keep` decides from.
    pub(super) route_key: Option<(u16, u16, u16)>,
}

/// What a shortcut does — exactly what the XML reader's handlers would do with that element.
#[derive(Debug)]
pub(super) enum Fast {
    /// A `System` child the record does not keep (Version, Opcode, Execution, Security, …).
    Skip,
    /// `System/Provider/@Name`.
    Provider(u16),
    /// `System/TimeCreated/@SystemTime`.
    TimeCreated(u16),
    /// `System/EventID` without `Qualifiers`, `Level`, `Task`.
    EventId(u16),
    Level(u16),
    Task(u16),
    Keywords(u16),
    EventRecordId(u16),
    Channel(u16),
    Computer(u16),
    /// `EventData/Data` with a literal `Name` (or none) and one substitution.
    Data(Option<std::sync::Arc<str>>, u16),
}

/// A name reference at `*p`: the name's chunk offset, its text stored inline right after the
/// reference the first time the chunk uses it (then skipped).
fn name_at(d: &[u8], p: &mut usize) -> Result<String, Decline> {
    let off = u32le(d, *p).ok_or("name reference")? as usize;
    *p += 4;
    let len = u16le(d, off + 6).ok_or("name")? as usize;
    if off == *p {
        *p += 8 + 2 * len + 2;
    }
    let units = d.get(off + 8..off + 8 + 2 * len).ok_or("name")?;
    let name = String::from_utf16(
        &units.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).collect::<Vec<_>>(),
    )
    .map_err(|_| "name is not UTF-16")?;
    // Local name, as the XML reader takes it.
    Ok(match name.find(':') {
        Some(i) => name[i + 1..].to_string(),
        None => name,
    })
}

/// What a compiled template depends on, free of where the chunk put it: every token with the
/// values [`compile`] reads, names by their text. The same definition in two chunks differs only
/// in its name references (chunk offsets, and the name text inline the first time a chunk uses a
/// name) and in the byte sizes those change, so this is equal exactly when compiling would give
/// the same program; it keys the compiled templates a worker keeps from chunk to chunk.
pub(super) fn fingerprint(d: &[u8], def: usize, out: &mut Vec<u8>) -> Result<(), Decline> {
    out.clear();
    let size = u32le(d, def + 20).ok_or("template definition")? as usize;
    let body_end = def + 24 + size;
    if body_end > d.len() {
        return Err("template definition runs past the chunk");
    }
    let name = |p: &mut usize, out: &mut Vec<u8>| -> Result<(), Decline> {
        let off = u32le(d, *p).ok_or("name reference")? as usize;
        *p += 4;
        let len = u16le(d, off + 6).ok_or("name")? as usize;
        if off == *p {
            *p += 8 + 2 * len + 2;
        }
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(d.get(off + 8..off + 8 + 2 * len).ok_or("name")?);
        Ok(())
    };
    let mut p = def + 24;
    loop {
        let t = *d.get(p).filter(|_| p < body_end).ok_or("template definition has no end")?;
        p += 1;
        out.push(t);
        let raw = |n: usize, p: &mut usize, out: &mut Vec<u8>| -> Result<(), Decline> {
            out.extend_from_slice(d.get(*p..*p + n).ok_or("token")?);
            *p += n;
            Ok(())
        };
        match t & !tok::MORE {
            tok::EOF if t == tok::EOF => return Ok(()),
            tok::FRAGMENT_HEADER if t == tok::FRAGMENT_HEADER => p += 3,
            tok::OPEN_START => {
                // Dependency id; the element's byte size (which inline names change) is left out.
                raw(2, &mut p, out)?;
                p += 4;
                name(&mut p, out)?;
                if t & tok::MORE != 0 {
                    p += 4;
                }
            }
            tok::ATTRIBUTE => name(&mut p, out)?,
            tok::VALUE => {
                let len = u16le(d, p + 1).ok_or("value")? as usize;
                raw(3 + 2 * len, &mut p, out)?;
            }
            tok::CHAR_REF => raw(2, &mut p, out)?,
            tok::NORMAL_SUBSTITUTION | tok::OPTIONAL_SUBSTITUTION => raw(3, &mut p, out)?,
            _ => {}
        }
    }
}

/// Compiles the template definition at chunk offset `def`.
pub(super) fn compile(d: &[u8], def: usize) -> Result<Program, Decline> {
    let size = u32le(d, def + 20).ok_or("template definition")? as usize;
    let body_end = def + 24 + size;
    if body_end > d.len() {
        return Err("template definition runs past the chunk");
    }
    let mut ops: Vec<Op> = Vec::with_capacity(64);
    let mut open: Vec<usize> = Vec::new();
    // The element whose start tag is being read, and its attribute being read.
    let mut pending: Option<StartTag> = None;
    let mut p = def + 24;
    loop {
        if p >= body_end {
            return Err("template definition has no end");
        }
        let t = d[p];
        p += 1;
        match t & !tok::MORE {
            tok::EOF if t == tok::EOF => break,
            tok::FRAGMENT_HEADER if t == tok::FRAGMENT_HEADER => p += 3,
            tok::OPEN_START => {
                if pending.is_some() {
                    return Err("element start inside a start tag");
                }
                let dep = u16le(d, p).ok_or("element")?;
                p += 6;
                let name = name_at(d, &mut p)?;
                if t & tok::MORE != 0 {
                    p += 4;
                }
                pending = Some((name, Vec::new(), (dep != 0xffff).then_some(dep)));
            }
            tok::ATTRIBUTE => {
                let name = name_at(d, &mut p)?;
                pending.as_mut().ok_or("attribute outside a start tag")?.1.push((name, Vec::new()));
            }
            tok::CLOSE_START | tok::CLOSE_EMPTY if t & tok::MORE == 0 => {
                let (name, attrs, dependency) = pending.take().ok_or("start tag end without a start")?;
                open.push(ops.len());
                ops.push(Op::Open { name: name.into(), attrs, dependency, end: 0, only: None });
                if t == tok::CLOSE_EMPTY {
                    end_element(&mut ops, &mut open)?;
                }
            }
            tok::END_ELEMENT if t == tok::END_ELEMENT => {
                if pending.is_some() {
                    return Err("element end inside a start tag");
                }
                end_element(&mut ops, &mut open)?;
            }
            tok::VALUE => {
                if d.get(p) != Some(&vt::STRING) {
                    return Err("template literal that is not a string");
                }
                let len = u16le(d, p + 1).ok_or("value")? as usize;
                let units = d.get(p + 3..p + 3 + 2 * len).ok_or("value")?;
                p += 3 + 2 * len;
                let mut s = String::with_capacity(len);
                push_utf16(&mut s, units);
                put(&mut pending, &mut ops, Piece::Lit(s));
            }
            tok::CHAR_REF => {
                let c = u16le(d, p).ok_or("character reference")?;
                p += 2;
                let c =
                    char::from_u32(u32::from(c)).filter(|c| !c.is_control()).ok_or("character reference")?;
                put(&mut pending, &mut ops, Piece::Lit(c.to_string()));
            }
            tok::NORMAL_SUBSTITUTION | tok::OPTIONAL_SUBSTITUTION if t & tok::MORE == 0 => {
                let id = u16le(d, p).ok_or("substitution")?;
                p += 3;
                put(&mut pending, &mut ops, Piece::Sub(id));
            }
            _ => return Err("template token this reader does not handle"),
        }
    }
    if !open.is_empty() || pending.is_some() {
        return Err("template definition ends inside an element");
    }
    let fast = shortcuts(&ops);
    let find = |want: fn(&Fast) -> Option<u16>| fast.iter().flatten().find_map(want);
    let route_key = match (
        find(|f| if let Fast::Provider(id) = f { Some(*id) } else { None }),
        find(|f| if let Fast::Channel(id) = f { Some(*id) } else { None }),
        find(|f| if let Fast::EventId(id) = f { Some(*id) } else { None }),
    ) {
        (Some(p), Some(c), Some(e)) => Some((p, c, e)),
        _ => None,
    };
    Ok(Program { ops, fast, route_key })
}

fn end_element(ops: &mut Vec<Op>, open: &mut Vec<usize>) -> Result<(), Decline> {
    let at = open.pop().ok_or("element end without a start")?;
    let here = ops.len();
    let sole = match &ops[at + 1..] {
        [Op::Text(Piece::Sub(id))] => Some(*id),
        _ => None,
    };
    if let Op::Open { end, only, .. } = &mut ops[at] {
        *end = here;
        *only = sole;
    }
    ops.push(Op::Close);
    Ok(())
}

fn put(pending: &mut Option<StartTag>, ops: &mut Vec<Op>, piece: Piece) {
    match pending.as_mut().and_then(|(_, attrs, _)| attrs.last_mut()) {
        Some((_, value)) => value.push(piece),
        None => ops.push(Op::Text(piece)),
    }
}

/// The shortcuts of a template's ops (see [`Fast`]). `System` ones only in a template whose root
/// is `Event` (used at the record's top level).
fn shortcuts(ops: &[Op]) -> Vec<Option<Fast>> {
    let mut fast: Vec<Option<Fast>> = ops.iter().map(|_| None).collect();
    let mut path: Vec<&str> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Open { name, attrs, dependency, only, .. } => {
                let sole_attr = |n: &str| match attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) {
                    Some((_, pieces)) => match pieces.as_slice() {
                        [Piece::Sub(id)] => Some(Some(*id)),
                        _ => Some(None),
                    },
                    None => None,
                };
                let system =
                    path.len() == 2 && path[0] == "Event" && path[1] == "System" && dependency.is_none();
                fast[i] = match (&**name, only) {
                    ("Provider", _) if system => sole_attr("Name").flatten().map(Fast::Provider),
                    ("TimeCreated", _) if system => match sole_attr("SystemTime") {
                        Some(Some(id)) => Some(Fast::TimeCreated(id)),
                        _ => None,
                    },
                    ("EventID", Some(id)) if system && attrs.is_empty() => Some(Fast::EventId(*id)),
                    ("Level", Some(id)) if system && attrs.is_empty() => Some(Fast::Level(*id)),
                    ("Task", Some(id)) if system && attrs.is_empty() => Some(Fast::Task(*id)),
                    ("Keywords", Some(id)) if system && attrs.is_empty() => Some(Fast::Keywords(*id)),
                    ("EventRecordID", Some(id)) if system && attrs.is_empty() => {
                        Some(Fast::EventRecordId(*id))
                    }
                    ("Channel", Some(id)) if system && attrs.is_empty() => Some(Fast::Channel(*id)),
                    ("Computer", Some(id)) if system && attrs.is_empty() => Some(Fast::Computer(*id)),
                    (
                        "EventID" | "Level" | "Task" | "Keywords" | "EventRecordID" | "Channel" | "Computer",
                        _,
                    ) => None,
                    (_, _) if system => Some(Fast::Skip),
                    ("Data", Some(id)) if path.last() == Some(&"EventData") && dependency.is_none() => {
                        match (attrs.as_slice(), sole_attr("Name")) {
                            ([], None) => Some(Fast::Data(None, *id)),
                            ([(_, pieces)], Some(None)) => match pieces.as_slice() {
                                [Piece::Lit(n)] if !n.is_empty() => {
                                    Some(Fast::Data(Some(n.as_str().into()), *id))
                                }
                                _ => None,
                            },
                            _ => None,
                        }
                    }
                    _ => None,
                };
                path.push(name);
            }
            Op::Close => {
                path.pop();
            }
            Op::Text(_) => {}
        }
    }
    fast
}
