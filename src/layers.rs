//! The layering rules, enforced: which top-level module may name which (see ARCHITECTURE.md), and how many
//! long functions the code may carry. Read from the sources at test time, so a new upward import fails
//! `cargo test` with the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The leaves: small modules every layer may use, which use only each other.
const LEAVES: &[&str] = &[
    "codes", "duration", "errors", "jwt", "local", "secret", "target", "text", "trace",
];

/// For each module above the leaves, what it may name besides the leaves. Read it bottom-up: pki knows
/// only certificates; net does the I/O over pki; report renders facts; config and credentials are the
/// user's input; the lab serves over net and pki; checks judge; scan and the app drive.
const ALLOWED: &[(&str, &[&str])] = &[
    ("pki", &[]),
    ("net", &["pki"]),
    ("report", &["pki"]),
    ("credentials", &["net", "pki"]),
    ("config", &["credentials", "net", "pki"]),
    ("lab", &["net", "pki"]),
    ("bundle", &["net", "pki", "report"]),
    ("checks", &["config", "credentials", "net", "pki", "report"]),
    (
        "scan",
        &["checks", "config", "credentials", "net", "pki", "report"],
    ),
    (
        "cli",
        &["config", "credentials", "lab", "net", "pki", "report"],
    ),
    (
        "app",
        &[
            "bundle",
            "checks",
            "cli",
            "config",
            "credentials",
            "lab",
            "net",
            "pki",
            "report",
            "scan",
        ],
    ),
    ("lib", &[]),
    ("main", &[]),
];

/// At most this many functions may be longer than [`LONG`] lines.
const LONG: usize = 80;

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

/// `src/net/tls.rs` → `net`; `src/app.rs` → `app`.
fn top_module(path: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = path.strip_prefix(&src).expect("under src");
    let first = rel.components().next().expect("a file");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Every `crate::X` a source names outside comments, with its line number.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().last();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `preflight_crate::`, not ours
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, name));
        }
    }
    out
}

#[test]
fn imports_only_go_down_the_layers() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for path in sources() {
        let from = top_module(&path);
        if from == "layers" {
            continue; // this file names modules in its own examples
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (line, to) in crate_refs(&text) {
            if to == from || LEAVES.contains(&to.as_str()) {
                continue;
            }
            let ok = if LEAVES.contains(&from.as_str()) {
                false
            } else {
                let Some(may) = allowed.get(from.as_str()) else {
                    panic!(
                        "{from} (in {}) is in no layer: add it to ALLOWED",
                        path.display()
                    );
                };
                may.contains(&to.as_str())
            };
            if !ok {
                wrong.push(format!(
                    "{}:{line}: {from} names crate::{to}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_rules_themselves_have_no_cycle() {
    // A module may only name modules listed before it: the table is a topological order.
    for (i, (name, may)) in ALLOWED.iter().enumerate() {
        for m in *may {
            let at = ALLOWED.iter().position(|(n, _)| n == m).expect("listed");
            assert!(at < i, "{name} may name {m}, which comes after it");
        }
    }
}

/// `(file, name, lines)` of every function, by rustfmt's layout: a `fn` line and the `}` at its indent.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let head = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ");
        let Some(name) = head.strip_prefix("fn ") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[i..].iter().position(|l| *l == close) {
            out.push((name, end + 1));
        }
    }
    out
}

#[test]
fn few_functions_are_long() {
    let mut long = Vec::new();
    for path in sources() {
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (name, len) in functions(&text) {
            if len > LONG {
                long.push(format!("{} {name}: {len} lines", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "{} functions over {LONG} lines; split them (issue 11 brought the count to 0):\n{}",
        long.len(),
        long.join("\n")
    );
}

#[test]
fn the_counters_count() {
    let refs = crate_refs(
        "use crate::net::tls;\n// crate::app in a comment\nlet x = crate::pki::provider();",
    );
    assert_eq!(refs, vec![(1, "net".to_string()), (3, "pki".to_string())]);
    let f =
        functions("fn a() {\n    one();\n}\n\nimpl X {\n    pub async fn b(&self) {\n    }\n}\n");
    assert_eq!(f, vec![("a".to_string(), 3), ("b".to_string(), 2)]);
}
