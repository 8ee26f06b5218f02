//! `--format jsonl`: one report per line, compact, so a scan can stream each target as it finishes and a
//! reader can process the stream line by line (`jq -c`, `grep`).

use std::io::{self, Write};

use super::model::Report;

/// Writes one report as one line of JSON.
pub fn write_line(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Every report, one per line.
pub fn render(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    for r in reports {
        write_line(r, out)?;
    }
    Ok(())
}
