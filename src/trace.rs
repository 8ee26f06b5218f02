//! The verbose trace (`-v`, `-vv`): each step of a run, what was sent where and what came back, with
//! timings. The library only hands lines to a sink; the app decides where they go (stderr) and scrubs them.

use std::sync::Arc;
use std::time::Instant;

type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// Where trace lines go, and how much to say: 0 nothing, 1 steps (`-v`), 2 details (`-vv`).
#[derive(Clone)]
pub struct Trace {
    level: u8,
    start: Instant,
    sink: Option<Sink>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trace(level {})", self.level)
    }
}

impl Default for Trace {
    fn default() -> Self {
        Trace::off()
    }
}

impl Trace {
    pub fn off() -> Trace {
        Trace {
            level: 0,
            start: Instant::now(),
            sink: None,
        }
    }

    pub fn new(level: u8, sink: impl Fn(&str) + Send + Sync + 'static) -> Trace {
        Trace {
            level,
            start: Instant::now(),
            sink: Some(Arc::new(sink)),
        }
    }

    /// Emits a line when the trace is at least `level`; the message is built only then.
    pub fn say(&self, level: u8, stage: &str, message: impl FnOnce() -> String) {
        if level == 0 || self.level < level {
            return;
        }
        if let Some(sink) = &self.sink {
            let ms = self.start.elapsed().as_millis();
            sink(&format!("[{ms:>6} ms] {stage:<9} {}", message()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn levels_filter_and_lines_are_prefixed() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let l2 = lines.clone();
        let t = Trace::new(1, move |s| l2.lock().expect("lock").push(s.to_string()));
        t.say(1, "dns", || "asked".into());
        t.say(2, "dns", || panic!("not built at level 1"));
        let got = lines.lock().expect("lock").clone();
        assert_eq!(got.len(), 1);
        assert!(
            got[0].contains("dns") && got[0].ends_with("asked"),
            "{got:?}"
        );
        Trace::off().say(1, "x", || panic!("off"));
    }
}
