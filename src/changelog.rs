//! The change log: every run that changes the host (setup, checkpoint,
//! restore, enable, disable) appends one JSON line per step to
//! `/var/log/dockpoint/dockpoint.log`: what was planned, asked, changed and
//! restarted, when, the backups, and last the exit code. The file is
//! rotated by size (`dockpoint.log.1` .. `.3`). A dry run, a cancel or a
//! refusal changes nothing and writes nothing there.
//!
//! The lines are gathered during the run and appended at its end in one
//! write on an O_APPEND descriptor, so two runs never interleave lines.

use crate::exit::Exit;
use crate::host::Host;
use serde_json::{Map, Value, json};

pub const PATH: &str = "/var/log/dockpoint/dockpoint.log";
/// Rotate before a write would take the file past this size.
pub const ROTATE_AT: u64 = 1 << 20;
/// Rotated files kept: `dockpoint.log.1` (newest) .. `dockpoint.log.3`.
pub const KEEP: usize = 3;

/// One run's lines, written at its end.
#[derive(Debug, Clone)]
pub struct Run {
    command: &'static str,
    id: String,
    lines: Vec<Map<String, Value>>,
}

impl Run {
    pub fn new(command: &'static str) -> Run {
        let now = jiff::Timestamp::now();
        Run {
            command,
            id: format!(
                "{}-{}",
                now.strftime("%Y%m%dT%H%M%S%.3fZ"),
                std::process::id()
            ),
            lines: Vec::new(),
        }
    }

    /// One step: `event` (planned, asked, changed, restarted, failed, ...)
    /// with its fields (an object), stamped now.
    pub fn event(&mut self, event: &str, fields: Value) {
        self.lines.push(line(
            &jiff::Timestamp::now().to_string(),
            &self.id,
            self.command,
            event,
            fields,
        ));
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The lines with the closing one (`end`, the exit code), as written.
    pub fn text(&self, exit: Exit) -> String {
        let mut out = String::new();
        let end = line(
            &jiff::Timestamp::now().to_string(),
            &self.id,
            self.command,
            "end",
            json!({ "exit": exit.code() }),
        );
        for l in self.lines.iter().chain([&end]) {
            out.push_str(&serde_json::to_string(l).expect("a log line serialises"));
            out.push('\n');
        }
        out
    }

    /// Append the run's lines (nothing when no step was recorded). Returns
    /// the log's path as a person finds it, or why it could not be written
    /// (never fatal: the host was changed either way, and the report says
    /// so).
    pub fn write(&self, host: &Host, exit: Exit) -> Option<Result<String, String>> {
        if self.is_empty() {
            return None;
        }
        Some(
            crate::fsio::append_rotating(host, PATH, self.text(exit).as_bytes(), ROTATE_AT, KEEP)
                .map_err(|e| format!("the change log could not be written: {e:#}")),
        )
    }
}

/// One line: time, run, command, event, then the fields. Pure.
pub fn line(
    time: &str,
    run: &str,
    command: &str,
    event: &str,
    fields: Value,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("time".into(), time.into());
    m.insert("run".into(), run.into());
    m.insert("command".into(), command.into());
    m.insert("event".into(), event.into());
    match fields {
        Value::Object(f) => {
            for (k, v) in f {
                if !m.contains_key(&k) {
                    m.insert(k, v);
                }
            }
        }
        Value::Null => {}
        other => {
            m.insert("detail".into(), other);
        }
    }
    m
}

impl Run {
    /// Write the run's lines and say where (stderr: stdout may carry JSON),
    /// or why not. The path written, for the report.
    pub fn finish(&self, host: &Host, exit: Exit) -> Option<String> {
        match self.write(host, exit)? {
            Ok(path) => {
                crate::ui::info(&format!("change log: {path}"));
                Some(path)
            }
            Err(e) => {
                crate::ui::info(&e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{RecordingRunner, Term};

    fn host(dir: &std::path::Path) -> Host {
        Host::new(
            Some(dir.to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap()
    }

    #[test]
    fn a_line_keeps_its_own_keys_first_and_never_lets_fields_overwrite_them() {
        let l = line(
            "T",
            "R",
            "setup",
            "changed",
            json!({"step": "runc-conf", "event": "forged", "backup": "/etc/x.bak"}),
        );
        let keys: Vec<&str> = l.keys().map(String::as_str).collect();
        assert_eq!(keys, ["time", "run", "command", "event", "step", "backup"]);
        assert_eq!(l["event"], "changed");
        assert_eq!(line("T", "R", "c", "e", json!("x"))["detail"], "x");
    }

    #[test]
    fn rotation_happens_only_when_the_next_write_would_pass_the_limit() {
        use crate::fsio::must_rotate;
        assert!(
            !must_rotate(0, 5000, 100),
            "an empty file is written even when the lines are larger"
        );
        assert!(!must_rotate(60, 40, 100));
        assert!(must_rotate(61, 40, 100));
    }

    #[test]
    fn runs_append_whole_lines_rotate_and_keep_three() {
        let dir = tempfile::tempdir().unwrap();
        let h = host(dir.path());
        let log = dir.path().join("var/log/dockpoint/dockpoint.log");
        let mut r = Run::new("setup");
        assert!(
            r.write(&h, Exit::Ok).is_none(),
            "a run without steps writes nothing"
        );
        assert!(!log.exists());
        r.event(
            "changed",
            json!({"step": "runc-conf", "backup": "/etc/criu/runc.conf.bak"}),
        );
        let shown = r.write(&h, Exit::Ok).unwrap().unwrap();
        assert!(
            shown.ends_with("/var/log/dockpoint/dockpoint.log"),
            "{shown}"
        );
        r.write(&h, Exit::Failed).unwrap().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["step"], "runc-conf");
        assert_eq!(lines[1]["event"], "end");
        assert_eq!(lines[1]["exit"], 0);
        assert_eq!(lines[3]["exit"], 1);
        // Rotation: a small limit, five writes; .1 .. .3 kept, each whole.
        for i in 0..5 {
            let mut r = Run::new("checkpoint");
            r.event("created", json!({"n": i}));
            crate::fsio::append_rotating(&h, PATH, r.text(Exit::Ok).as_bytes(), 300, KEEP).unwrap();
        }
        for n in 1..=3 {
            let p = dir
                .path()
                .join(format!("var/log/dockpoint/dockpoint.log.{n}"));
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(t.ends_with('\n'));
            for l in t.lines() {
                serde_json::from_str::<Value>(l).unwrap();
            }
        }
        assert!(
            !dir.path()
                .join("var/log/dockpoint/dockpoint.log.4")
                .exists()
        );
        let newest = std::fs::read_to_string(&log).unwrap();
        assert!(newest.contains("\"n\":4"), "{newest}");
    }
}
