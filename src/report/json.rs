//! `--format json`: the report model, pretty-printed.

use std::io::{self, Write};

use super::model::Report;

pub fn render(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    // One target: the report itself. Several (demo, later scan): an array.
    if let [one] = reports {
        serde_json::to_writer_pretty(&mut *out, one)?;
    } else {
        serde_json::to_writer_pretty(&mut *out, reports)?;
    }
    out.write_all(b"\n")
}
