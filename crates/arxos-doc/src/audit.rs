//! The audit trail: who changed, imported, resolved, reverted, merged, versioned or reviewed
//! what, and when — every change of the history, exportable as CSV.
//!
//! It is read from the change metadata every [`crate::Document`] write records (author,
//! wall-clock time, kind, summary), so it syncs with the plan and cannot drift from it.

use std::io::Write;

use serde::Serialize;

use crate::command::ChangeKind;
use crate::document::Document;

/// One change of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When, as RFC 3339 UTC with milliseconds (`2026-11-21T10:00:00.000Z`).
    pub time: String,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Who.
    pub author: String,
    /// What kind of change (`edit`, `import`, `resolve`, `revert`, `merge`, `version`,
    /// `branch`, `review`, `rule`).
    pub kind: ChangeKind,
    /// What it did.
    pub summary: String,
    /// The change hash (hex).
    pub change: String,
}

/// Every change, oldest first (causal order, as [`Document::history`]).
pub fn audit_trail(doc: &mut Document) -> Vec<AuditEntry> {
    doc.history()
        .into_iter()
        .map(|h| AuditEntry {
            time: rfc3339_ms(h.time_ms),
            time_ms: h.time_ms,
            author: h.author,
            kind: h.kind,
            summary: h.summary,
            change: h.hash,
        })
        .collect()
}

/// The CSV header, in column order.
pub const CSV_HEADER: [&str; 6] = ["time", "time_ms", "author", "kind", "summary", "change"];

/// Writes `entries` as CSV: a header row, then one row per change, `\n`-terminated; fields
/// holding commas, quotes or line breaks are quoted, with quotes doubled (RFC 4180 quoting).
pub fn write_csv<W: Write>(entries: &[AuditEntry], out: W) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for e in entries {
        let time_ms = e.time_ms.to_string();
        w.write_record([
            e.time.as_str(),
            time_ms.as_str(),
            &as_text(&e.author),
            e.kind.as_str(),
            &as_text(&e.summary),
            e.change.as_str(),
        ])?;
    }
    w.flush()
}

/// A free-text cell (author names, summaries are data anyone can type) as text a spreadsheet
/// will not evaluate: one starting like a formula (`=`, `+`, `-`, `@`, tab, carriage return)
/// gets a leading `'`, the OWASP advice against CSV injection.
fn as_text(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The CSV text of `entries` (see [`write_csv`]).
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut buf = Vec::new();
    // Writing to memory cannot fail, and every field is valid UTF-8.
    if let Err(e) = write_csv(entries, &mut buf) {
        tracing::error!(%e, "writing CSV to memory failed");
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Formats epoch milliseconds as RFC 3339 UTC (`1970-01-01T00:00:00.000Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_written_as_text() {
        let entry = |author: &str, summary: &str| AuditEntry {
            time: rfc3339_ms(0),
            time_ms: -1,
            author: author.into(),
            kind: ChangeKind::Edit,
            summary: summary.into(),
            change: "ab".into(),
        };
        let csv = to_csv(&[
            entry("=HYPERLINK(\"http://x\")", "+1"),
            entry("@SUM(A1)", "-2 walls"),
            entry("ann", "moved = fine"),
        ]);
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(
            rows,
            [
                "1970-01-01T00:00:00.000Z,-1,\"'=HYPERLINK(\"\"http://x\"\")\",edit,'+1,ab",
                "1970-01-01T00:00:00.000Z,-1,'@SUM(A1),edit,'-2 walls,ab",
                "1970-01-01T00:00:00.000Z,-1,ann,edit,moved = fine,ab",
            ]
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}
