//! The report model and its renderers. Renderers are pure: `(&Report, options, &mut dyn Write)`; they never
//! print, read the clock or touch the network.

pub mod json;
pub mod jsonl;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod summary;
pub mod table;

pub use model::{Check, Report, Status, TargetInfo, Verdict};

/// Output formats for `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// The report model as JSON.
    Json,
    /// One report per line (compact JSON): `scan` streams each target as it finishes.
    Jsonl,
    /// Markdown for a ticket or a pull request.
    Markdown,
    /// JUnit XML for CI: one test suite per target, one test case per check (warnings pass).
    Junit,
}
