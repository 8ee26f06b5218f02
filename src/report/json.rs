//! `--format json`: the report model, pretty-printed.
//!
//! A scan's document is an array written element by element as its targets finish ([`element`],
//! [`Array`]), byte for byte what `serde_json::to_writer_pretty` writes for the whole array, so that no
//! report has to be kept until the end.

use std::io::{self, Write};

use super::model::Report;
use super::summary::Interruption;

pub fn render(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    // One target: the report itself. Several (demo, later scan): an array.
    if let [one] = reports {
        serde_json::to_writer_pretty(&mut *out, one)?;
    } else {
        serde_json::to_writer_pretty(&mut *out, reports)?;
    }
    out.write_all(b"\n")
}

/// One report as an element of a pretty-printed array: indented one level, without separator.
pub fn element(report: &Report) -> io::Result<Vec<u8>> {
    indented(&serde_json::to_vec_pretty(report)?)
}

/// The element that closes an interrupted scan's array: `{"interrupted": {"signal": "SIGTERM", "not_run": N}}`.
pub fn interrupted_element(i: &Interruption) -> io::Result<Vec<u8>> {
    let value = serde_json::json!({
        "interrupted": { "signal": i.signal, "not_run": i.not_run }
    });
    indented(&serde_json::to_vec_pretty(&value)?)
}

/// Pretty JSON one level deeper (two spaces after each newline; a JSON string never holds a raw newline).
fn indented(pretty: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(pretty.len() + pretty.len() / 8 + 2);
    out.extend_from_slice(b"  ");
    for &b in pretty {
        out.push(b);
        if b == b'\n' {
            out.extend_from_slice(b"  ");
        }
    }
    Ok(out)
}

/// A pretty-printed array written element by element: `[`, the elements separated by `,`, `]` and a newline.
#[derive(Debug, Default)]
pub struct Array {
    elements: usize,
}

impl Array {
    /// Writes one element made by [`element`] (with the opening bracket or a separator before it).
    pub fn push(&mut self, element: &[u8], out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.elements == 0 { b"[\n" } else { b",\n" })?;
        self.elements += 1;
        out.write_all(element)
    }

    /// Closes the array (`[]` when it is empty), with a final newline.
    pub fn finish(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.elements == 0 {
            b"[]\n"
        } else {
            b"\n]\n"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown::fixtures::{check_report, refused_report, verify_report};

    fn streamed(reports: &[Report]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut array = Array::default();
        for r in reports {
            array
                .push(&element(r).expect("element"), &mut out)
                .expect("push");
        }
        array.finish(&mut out).expect("finish");
        out
    }

    #[test]
    fn an_array_written_element_by_element_is_the_whole_array_pretty_printed() {
        for reports in [
            vec![],
            vec![refused_report()],
            vec![check_report(), verify_report(), refused_report()],
        ] {
            let mut whole = serde_json::to_vec_pretty(&reports).expect("whole");
            whole.push(b'\n');
            assert_eq!(
                String::from_utf8(streamed(&reports)).expect("utf-8"),
                String::from_utf8(whole).expect("utf-8")
            );
        }
    }

    #[test]
    fn an_interrupted_array_ends_with_what_was_not_run() {
        let mut out = Vec::new();
        let mut array = Array::default();
        array
            .push(&element(&refused_report()).expect("element"), &mut out)
            .expect("push");
        let i = Interruption {
            signal: "SIGTERM",
            not_run: 7,
        };
        array
            .push(&interrupted_element(&i).expect("element"), &mut out)
            .expect("push");
        array.finish(&mut out).expect("finish");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        let items = doc.as_array().expect("an array");
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["interrupted"]["signal"], "SIGTERM");
        assert_eq!(items[1]["interrupted"]["not_run"], 7);
    }
}
