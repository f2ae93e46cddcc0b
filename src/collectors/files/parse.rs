//! Turning one unit of a JSON file (a page, a record, an envelope) into rows, and routing each
//! record by its shape: `directoryAudit` (Graph or Log Analytics), diagnostic-settings envelope,
//! `userRegistrationDetails`, `user`, or `unifiedRoleAssignment`. Records that fit nothing, or fail to flatten, become
//! [`BadRecord`]s with the exact line, offset and reason.

use crate::collectors::files::flatten::{AuditSource, RowContext, audit_row, registration_row, user_row};
use crate::collectors::files::format::FileFormat;
use crate::collectors::files::lex;
use crate::collectors::files::record::{RawObject, Val};
use crate::collectors::files::roles::role_assignment_row;
use crate::collectors::files::scan::Unit;
use crate::collectors::rows::BatchBuilder;
use crate::store::schema::{AUDIT_EVENTS, REGISTRATION_DETAILS, ROLE_ASSIGNMENTS, USERS};

/// The shape of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordKind {
    GraphAudit,
    LogAnalyticsAudit,
    DiagnosticEnvelope,
    Registration,
    User,
    RoleAssignment,
}

impl RecordKind {
    /// Recognises a record by the keys it has.
    fn detect(o: &RawObject<'_>) -> Option<Self> {
        let exact = |k: &str| o.fields.iter().any(|(f, _)| f == k);
        if o.has("properties") && (o.has("operationName") || o.has("resourceId") || o.has("time")) {
            Some(RecordKind::DiagnosticEnvelope)
        } else if exact("ActivityDateTime") || exact("TimeGenerated") {
            Some(RecordKind::LogAnalyticsAudit)
        } else if o.has("activityDateTime") {
            Some(RecordKind::GraphAudit)
        } else if o.has("isSsprRegistered") || o.has("isSsprCapable") || o.has("methodsRegistered") {
            Some(RecordKind::Registration)
        } else if o.has("principalId") && (o.has("roleDefinitionId") || o.has("roleDefinition")) {
            Some(RecordKind::RoleAssignment)
        } else if o.has("userPrincipalName")
            && (o.has("accountEnabled") || o.has("createdDateTime") || o.has("displayName"))
        {
            Some(RecordKind::User)
        } else {
            None
        }
    }

    fn fits(self, format: FileFormat) -> bool {
        match format {
            FileFormat::Auto => true,
            FileFormat::GraphAudit => matches!(self, RecordKind::GraphAudit | RecordKind::LogAnalyticsAudit),
            FileFormat::DiagnosticArchive => self == RecordKind::DiagnosticEnvelope,
            FileFormat::PortalCsv => self == RecordKind::GraphAudit,
            FileFormat::LogAnalyticsJson | FileFormat::LogAnalyticsCsv => {
                matches!(self, RecordKind::LogAnalyticsAudit | RecordKind::GraphAudit)
            }
            FileFormat::GraphRegistration => self == RecordKind::Registration,
            FileFormat::GraphUsers => self == RecordKind::User,
            FileFormat::GraphRoleAssignments => self == RecordKind::RoleAssignment,
            FileFormat::Evtx | FileFormat::EventXml | FileFormat::EventCsv | FileFormat::EventJson => false,
        }
    }
}

/// A record that could not be turned into a row.
#[derive(Debug, Clone)]
pub struct BadRecord {
    pub line: u64,
    pub offset: u64,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// Rows and problems produced from a run of units by one worker.
pub struct Sink {
    pub audit: BatchBuilder,
    pub registration: BatchBuilder,
    pub users: BatchBuilder,
    pub roles: BatchBuilder,
    pub bad: Vec<BadRecord>,
    pub records: u64,
    pub pages: u64,
}

impl Default for Sink {
    fn default() -> Self {
        Self {
            audit: BatchBuilder::new(AUDIT_EVENTS.schema()),
            registration: BatchBuilder::new(REGISTRATION_DETAILS.schema()),
            users: BatchBuilder::new(USERS.schema()),
            roles: BatchBuilder::new(ROLE_ASSIGNMENTS.schema()),
            bad: Vec::new(),
            records: 0,
            pages: 0,
        }
    }
}

/// Parses one unit: a page (`{"value": [...]}` or Event Hub `{"records": [...]}`) or a record.
pub fn parse_unit(unit: &Unit, format: FileFormat, ctx: &RowContext<'_>, sink: &mut Sink) {
    let text = match std::str::from_utf8(&unit.bytes) {
        Ok(t) => t,
        Err(e) => {
            sink.records += 1;
            return bad(sink, unit.line, unit.offset, format!("not UTF-8 ({e})"), &unit.bytes);
        }
    };
    let obj = match RawObject::parse(text) {
        Ok(o) => o,
        Err(e) => {
            if text.contains('\n') && split_lines_and_retry(text, unit.line, unit.offset, format, ctx, sink) {
                return;
            }
            sink.records += 1;
            let at = describe(&e, unit.line);
            return bad(sink, unit.line, unit.offset, at, text.as_bytes());
        }
    };
    parse_object(obj, text, unit, format, ctx, sink);
}

/// Parses a whole file that is one JSON object (a Graph page, a single record) without cutting
/// it into units first; `false` (nothing added to `sink`) when it is anything else — JSON lines,
/// an array of pages, broken JSON — for the splitter to handle.
pub fn parse_document(bytes: &[u8], format: FileFormat, ctx: &RowContext<'_>, sink: &mut Sink) -> bool {
    let bom = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
    let Ok(text) = std::str::from_utf8(&bytes[bom..]) else { return false };
    let start = text.len() - text.trim_start().len();
    let Ok(obj) = RawObject::parse(text) else { return false };
    let unit = Unit {
        bytes: Vec::new(),
        line: 1 + text[..start].bytes().filter(|b| *b == b'\n').count() as u64,
        offset: (bom + start) as u64,
    };
    parse_object(obj, &text[start..], &unit, format, ctx, sink);
    true
}

/// The rest of [`parse_unit`] once the unit is an object: a page's records, else one record.
/// `text` starts at the object's first byte; `unit` gives its line and offset.
fn parse_object<'a>(
    obj: RawObject<'a>,
    text: &'a str,
    unit: &Unit,
    format: FileFormat,
    ctx: &RowContext<'_>,
    sink: &mut Sink,
) {
    let array = obj.fields.iter().find_map(|(k, v)| match v {
        Val::Raw(r) if (k == "value" || k == "records") && r.starts_with('[') => Some(*r),
        _ => None,
    });
    let Some(arr) = array else {
        return finish_record(obj, text, unit.line, unit.offset, format, ctx, sink);
    };
    sink.pages += 1;
    let base = arr.as_ptr() as usize - text.as_ptr() as usize;
    let items = match lex::array_elements(arr) {
        Ok(v) => v,
        Err(e) => {
            sink.records += 1;
            return bad(
                sink,
                unit.line,
                unit.offset,
                format!("page: {}", describe(&e, unit.line)),
                text.as_bytes(),
            );
        }
    };
    let (mut seen_at, mut line) = (0usize, unit.line);
    for (off, item) in items {
        let at = base + off;
        line += line_within_range(text.as_bytes(), seen_at, at);
        seen_at = at;
        let offset = unit.offset + at as u64;
        match RawObject::parse(item) {
            Ok(o) => finish_record(o, item, line, offset, format, ctx, sink),
            Err(e) => {
                sink.records += 1;
                bad(sink, line, offset, describe(&e, line), item.as_bytes());
            }
        }
    }
}

/// Newlines in `bytes[from..to]` (page items are visited in order, so lines are counted once).
fn line_within_range(bytes: &[u8], from: usize, to: usize) -> u64 {
    memchr::memchr_iter(b'\n', &bytes[from..to.min(bytes.len())]).count() as u64
}

/// Rewrites a lexer message's relative line into the file's line.
fn describe(e: &str, first_line: u64) -> String {
    match e.split_once(" at line ") {
        Some((what, rest)) => {
            let (n, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let rel: u64 = n.parse().unwrap_or(1);
            format!("{what} at line {} {tail}", first_line + rel - 1)
        }
        None => e.to_string(),
    }
}

fn bad(sink: &mut Sink, line: u64, offset: u64, reason: String, raw: &[u8]) {
    sink.bad.push(BadRecord { line, offset, reason, raw: raw.to_vec() });
}

fn finish_record<'a>(
    mut obj: RawObject<'a>,
    text: &'a str,
    line: u64,
    offset: u64,
    format: FileFormat,
    ctx: &RowContext<'a>,
    sink: &mut Sink,
) {
    sink.records += 1;
    // One record's panic is that record's problem alone (crate::parallel's policy).
    let routed = crate::parallel::guard(|| {
        crate::parallel::inject(text.as_bytes());
        route(&mut obj, format, ctx, sink)
    });
    match routed {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => bad(sink, line, offset, reason, text.as_bytes()),
        Err(panicked) => bad(sink, line, offset, panicked.to_string(), text.as_bytes()),
    }
}

/// When a broken JSON-lines record swallowed the lines after it, parse each line on its own so
/// one bad line costs one record. Returns false when the text is not line-oriented.
fn split_lines_and_retry(
    text: &str,
    line: u64,
    offset: u64,
    format: FileFormat,
    ctx: &RowContext<'_>,
    sink: &mut Sink,
) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() < 2 || !lines.iter().skip(1).any(|l| l.trim_start().starts_with('{')) {
        return false;
    }
    let mut off = offset;
    for (i, l) in lines.iter().enumerate() {
        let trimmed = l.trim_end_matches('\r');
        if !trimmed.trim().is_empty() {
            let at = line + i as u64;
            match RawObject::parse(trimmed) {
                Ok(obj) => finish_record(obj, trimmed, at, off, format, ctx, sink),
                Err(e) => {
                    sink.records += 1;
                    bad(sink, at, off, describe(&e, at), trimmed.as_bytes());
                }
            }
        }
        off += l.len() as u64 + 1;
    }
    true
}

/// Keeps the complete records of a page cut off by the end of the file (a truncated download).
/// Returns how many bytes of `partial` were used; the rest is for the quarantine.
pub(crate) fn salvage_truncated(
    partial: &[u8],
    line: u64,
    offset: u64,
    format: FileFormat,
    ctx: &RowContext<'_>,
    sink: &mut Sink,
) -> usize {
    let text = match std::str::from_utf8(partial) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&partial[..e.valid_up_to()]).unwrap_or_default(),
    };
    let b = text.as_bytes();
    let start = ["\"value\"", "\"records\""].iter().find_map(|k| text.find(k).map(|i| i + k.len()));
    let Some(mut i) = start else {
        return 0;
    };
    let skip = |b: &[u8], mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i
    };
    i = skip(b, i);
    if b.get(i) != Some(&b':') {
        return 0;
    }
    i = skip(b, i + 1);
    if b.get(i) != Some(&b'[') {
        return 0;
    }
    i = skip(b, i + 1);
    let mut used = 0;
    let mut line_at = (0usize, line);
    while let Ok(end) = lex::value_end(b, i) {
        let item = &text[i..end];
        line_at.1 += line_within_range(b, line_at.0, i);
        line_at.0 = i;
        match RawObject::parse(item) {
            Ok(o) => finish_record(o, item, line_at.1, offset + i as u64, format, ctx, sink),
            Err(_) => break,
        }
        used = end;
        i = skip(b, end);
        if b.get(i) != Some(&b',') {
            break;
        }
        i = skip(b, i + 1);
    }
    used
}

/// Sends a record to the right table.
pub(crate) fn route<'a>(
    obj: &mut RawObject<'a>,
    format: FileFormat,
    ctx: &RowContext<'a>,
    sink: &mut Sink,
) -> Result<(), String> {
    let kind = RecordKind::detect(obj).ok_or_else(|| {
        "unrecognised record: not a directoryAudit, diagnostic-settings record, userRegistrationDetails, user or \
         unifiedRoleAssignment"
            .to_string()
    })?;
    if !kind.fits(format) {
        return Err(format!("record looks like {kind:?}, not {format:?} (--format)"));
    }
    match kind {
        RecordKind::GraphAudit | RecordKind::LogAnalyticsAudit => {
            let source = match (kind, format) {
                (_, FileFormat::LogAnalyticsCsv) => AuditSource::LogAnalyticsCsv,
                (_, FileFormat::PortalCsv) => AuditSource::PortalCsv,
                (RecordKind::LogAnalyticsAudit, _) => AuditSource::LogAnalytics,
                _ => AuditSource::Graph,
            };
            let row = audit_row(obj, None, source, ctx)?;
            sink.audit.push(&row);
        }
        RecordKind::DiagnosticEnvelope => {
            let props_text = obj.raw_text(&["properties"]).ok_or("diagnostic record has no properties")?;
            let props_text = match props_text {
                std::borrow::Cow::Borrowed(s) => s,
                std::borrow::Cow::Owned(_) => return Err("properties must be a JSON object".into()),
            };
            let mut props = RawObject::parse(props_text).map_err(|e| format!("field properties: {e}"))?;
            let row = audit_row(&mut props, Some(obj), AuditSource::DiagnosticArchive, ctx)?;
            sink.audit.push(&row);
        }
        RecordKind::Registration => {
            let row = registration_row(obj, ctx)?;
            sink.registration.push(&row);
        }
        RecordKind::User => {
            let row = user_row(obj, ctx)?;
            sink.users.push(&row);
        }
        RecordKind::RoleAssignment => {
            let row = role_assignment_row(obj, ctx)?;
            sink.roles.push(&row);
        }
    }
    Ok(())
}
