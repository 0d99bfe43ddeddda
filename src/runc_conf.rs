//! The pure editor for `/etc/criu/runc.conf`: old text in, new text out.
//!
//! The syntax is CRIU's (criu/config.c): one long option per line without
//! leading dashes, `name`, `name value` or `name=value`; `#` comments, also
//! trailing; values with spaces in double quotes; `no-<option>` negates a
//! boolean and later lines win. CRIU rejects the whole file (and then every
//! checkpoint and restore on the host fails) on a line with leading dashes,
//! an unknown option, CRLF line endings or an unclosed quote.

pub use crate::edit::{Edit, EditError as ConfError};
use std::fmt;

/// How a CRIU long option takes its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A boolean: `name` sets it, `no-name` clears it.
    Bool,
    /// A flag without a `no-` form.
    Flag,
    /// Needs a value.
    Required,
    /// May take a value.
    Optional,
}

/// CRIU's long options (criu/config.c, CRIU 3.11 to 4.2), as data.
pub const CRIU_OPTIONS: &[(&str, Arg)] = &[
    ("tree", Arg::Required),
    ("leave-stopped", Arg::Flag),
    ("leave-running", Arg::Flag),
    ("restore-detached", Arg::Bool),
    ("restore-sibling", Arg::Bool),
    ("daemon", Arg::Bool),
    ("images-dir", Arg::Required),
    ("work-dir", Arg::Required),
    ("log-file", Arg::Required),
    ("join-ns", Arg::Required),
    ("root", Arg::Required),
    ("ext-unix-sk", Arg::Optional),
    ("tcp-established", Arg::Bool),
    ("close", Arg::Required),
    ("log-pid", Arg::Bool),
    ("evasive-devices", Arg::Bool),
    ("pidfile", Arg::Required),
    ("veth-pair", Arg::Required),
    ("action-script", Arg::Required),
    ("link-remap", Arg::Bool),
    ("shell-job", Arg::Bool),
    ("file-locks", Arg::Bool),
    ("page-server", Arg::Bool),
    ("address", Arg::Required),
    ("port", Arg::Required),
    ("prev-images-dir", Arg::Required),
    ("track-mem", Arg::Bool),
    ("auto-dedup", Arg::Bool),
    ("libdir", Arg::Required),
    ("cpu-cap", Arg::Optional),
    ("force-irmap", Arg::Bool),
    ("ext-mount-map", Arg::Required),
    ("manage-cgroups", Arg::Optional),
    ("cgroup-root", Arg::Required),
    ("inherit-fd", Arg::Required),
    ("feature", Arg::Required),
    ("skip-mnt", Arg::Required),
    ("enable-fs", Arg::Required),
    ("enable-external-sharing", Arg::Flag),
    ("enable-external-masters", Arg::Flag),
    ("freeze-cgroup", Arg::Required),
    ("ghost-limit", Arg::Required),
    ("irmap-scan-path", Arg::Required),
    ("lsm-profile", Arg::Required),
    ("lsm-mount-context", Arg::Required),
    ("timeout", Arg::Required),
    ("external", Arg::Required),
    ("empty-ns", Arg::Required),
    ("lazy-pages", Arg::Flag),
    ("extra", Arg::Bool),
    ("experimental", Arg::Bool),
    ("all", Arg::Flag),
    ("cgroup-props", Arg::Required),
    ("cgroup-props-file", Arg::Required),
    ("cgroup-dump-controller", Arg::Required),
    ("skip-in-flight", Arg::Bool),
    ("deprecated", Arg::Bool),
    ("display-stats", Arg::Bool),
    ("weak-sysctls", Arg::Bool),
    ("status-fd", Arg::Required),
    ("tcp-close", Arg::Bool),
    ("verbosity", Arg::Optional),
    ("ps-socket", Arg::Required),
    ("stream", Arg::Bool),
    ("tls-cacert", Arg::Required),
    ("tls-cacrl", Arg::Required),
    ("tls-cert", Arg::Required),
    ("tls-key", Arg::Required),
    ("tls", Arg::Bool),
    ("tls-no-cn-verify", Arg::Flag),
    ("cgroup-yard", Arg::Required),
    ("pre-dump-mode", Arg::Required),
    ("file-validation", Arg::Required),
    ("network-lock", Arg::Required),
    ("mntns-compat-mode", Arg::Bool),
    ("unprivileged", Arg::Bool),
    ("ghost-fiemap", Arg::Bool),
    ("orphan-pts-master", Arg::Bool),
    ("check-only", Arg::Flag),
    ("skip-file-rwx-check", Arg::Bool),
    ("allow-uprobes", Arg::Bool),
];

fn lookup(name: &str) -> Option<Arg> {
    CRIU_OPTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

/// A desired option: `tcp-established`, or `ghost-limit 100M`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriuOption {
    pub name: String,
    pub value: Option<String>,
}

impl CriuOption {
    pub fn flag(name: &str) -> Self {
        CriuOption {
            name: name.into(),
            value: None,
        }
    }

    /// Parse `NAME`, `NAME VALUE` or `NAME=VALUE` as given to `--criu-option`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let (name, value) = match spec.find(|c: char| c == '=' || c.is_whitespace()) {
            Some(i) => (&spec[..i], Some(spec[i + 1..].trim().to_string())),
            None => (spec, None),
        };
        let name = name.trim_start_matches('-');
        let value = value.filter(|v| !v.is_empty());
        match (lookup(name), &value) {
            (None, _) => Err(format!(
                "'{name}' is not a CRIU option (see `criu --help`; write it without leading dashes)"
            )),
            (Some(Arg::Required), None) => Err(format!("CRIU option '{name}' needs a value")),
            (Some(Arg::Bool | Arg::Flag), Some(v)) => {
                Err(format!("CRIU option '{name}' takes no value (got '{v}')"))
            }
            _ if value
                .as_deref()
                .is_some_and(|v| v.contains('"') || v.contains('\n')) =>
            {
                Err(format!(
                    "the value of '{name}' must not contain quotes or newlines"
                ))
            }
            _ => Ok(CriuOption {
                name: name.into(),
                value,
            }),
        }
    }

    /// The line as written to runc.conf (without newline).
    pub fn line(&self) -> String {
        match &self.value {
            None => self.name.clone(),
            Some(v) if v.chars().any(char::is_whitespace) || v.contains('#') => {
                format!("{} \"{}\"", self.name, v)
            }
            Some(v) => format!("{} {}", self.name, v),
        }
    }
}

impl fmt::Display for CriuOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// A word of a line: its byte range and its (unquoted) text.
type Word = ((usize, usize), String);

/// One parsed statement line.
#[derive(Debug, Clone)]
struct Stmt {
    /// 0-based line index.
    idx: usize,
    /// Byte range of the leading dashes in the line, if any.
    dashes: Option<(usize, usize)>,
    /// Option name as written (after dashes), maybe with `no-`.
    name: String,
    /// Byte range of the value in the line, and its unquoted text.
    value: Option<((usize, usize), String)>,
}

enum Line {
    Other,
    Stmt(Stmt),
}

/// Split into words like CRIU: whitespace separated, `#` starting a word
/// begins a comment, a word starting with `"` runs to the next `"`.
fn words(line: &str, lineno: usize) -> Result<Vec<Word>, ConfError> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() || b[i] == b'#' {
            break;
        }
        let start = i;
        if b[i] == b'"' {
            match line[i + 1..].find('"') {
                Some(rel) => {
                    let end = i + 1 + rel;
                    out.push(((start, end + 1), line[i + 1..end].to_string()));
                    i = end + 1;
                }
                None => {
                    return Err(ConfError {
                        line: lineno,
                        column: Some(start + 1),
                        cause: format!(
                            "unclosed quote in `{}`: CRIU rejects the whole file",
                            line.trim()
                        ),
                        repair: Some(format!("comment out line {lineno}")),
                    });
                }
            }
        } else {
            while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                i += 1;
            }
            out.push(((start, i), line[start..i].to_string()));
        }
    }
    Ok(out)
}

fn parse_line(line: &str, idx: usize) -> Result<Line, ConfError> {
    let lineno = idx + 1;
    let trimmed = line.trim_start_matches([' ', '\t']);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Line::Other);
    }
    let w = words(line, lineno)?;
    let Some(((s, e), first)) = w.first().cloned() else {
        return Ok(Line::Other);
    };
    let dash_len = first.len() - first.trim_start_matches('-').len();
    let dashes = (dash_len > 0).then_some((s, s + dash_len));
    let word = &first[dash_len..];
    let (name, mut value) = match word.split_once('=') {
        Some((n, v)) => {
            let vstart = s + dash_len + n.len() + 1;
            (n.to_string(), Some(((vstart, e), v.to_string())))
        }
        None => (word.to_string(), None),
    };
    if value.is_none() && w.len() > 1 {
        let ((vs, _), _) = w[1];
        let ((_, ve), _) = w[w.len() - 1];
        let text = w[1..]
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        value = Some(((vs, ve), text));
    }
    let garbage = |cause: String| ConfError {
        line: lineno,
        column: None,
        cause,
        repair: Some(format!("comment out line {lineno}")),
    };
    let base = name.strip_prefix("no-").unwrap_or(&name);
    let arg = match lookup(&name) {
        Some(a) => a,
        None => match lookup(base) {
            Some(Arg::Bool) if base != name => Arg::Flag,
            _ => {
                return Err(garbage(format!(
                    "`{}` is not a CRIU option: CRIU rejects the whole file, so every checkpoint and restore fails",
                    line.trim()
                )));
            }
        },
    };
    match (arg, &value) {
        (Arg::Required, None) => {
            return Err(garbage(format!(
                "CRIU option `{name}` needs a value: CRIU rejects the whole file"
            )));
        }
        (Arg::Bool | Arg::Flag, Some(_)) => {
            return Err(garbage(format!(
                "`{}`: CRIU option `{name}` takes no value, CRIU rejects the whole file",
                line.trim()
            )));
        }
        _ => {}
    }
    Ok(Line::Stmt(Stmt {
        idx,
        dashes,
        name,
        value,
    }))
}

/// Lines of `text`, each without its `\n`, and whether the text ended with one.
fn split_lines(text: &str) -> (Vec<&str>, bool) {
    if text.is_empty() {
        return (Vec::new(), true);
    }
    let ends_nl = text.ends_with('\n');
    let body = if ends_nl {
        &text[..text.len() - 1]
    } else {
        text
    };
    (body.split('\n').collect(), ends_nl)
}

/// Ensure every option in `want` is in effect in runc.conf `text`.
///
/// Keeps every other line byte for byte. A line with leading dashes is
/// repaired (the dashes dropped) and noted. CRLF endings, unknown options and
/// unclosed quotes are errors unless `repair` is set, in which case CRLF is
/// converted and the bad line commented out.
pub fn ensure_options(text: &str, want: &[CriuOption], repair: bool) -> Result<Edit, ConfError> {
    let mut notes = Vec::new();
    let mut text = text.to_string();
    if let Some(pos) = text.find('\r') {
        let line = text[..pos].matches('\n').count() + 1;
        if !repair {
            return Err(ConfError {
                line,
                column: None,
                cause: "CRLF (Windows) line endings: CRIU reads the `\\r` as part of the option and rejects the whole file".into(),
                repair: Some("convert the line endings to LF".into()),
            });
        }
        text = text.replace("\r\n", "\n").replace('\r', "\n");
        notes.push("converted CRLF line endings to LF".to_string());
    }
    let (lines, ends_nl) = split_lines(&text);
    let mut lines: Vec<String> = lines.into_iter().map(str::to_owned).collect();
    let mut stmts = Vec::new();
    for (idx, line) in lines.iter_mut().enumerate() {
        match parse_line(line, idx) {
            Ok(Line::Stmt(s)) => stmts.push(s),
            Ok(Line::Other) => {}
            Err(e) if repair && e.repair.is_some() => {
                notes.push(format!("commented out line {}: {}", idx + 1, line.trim()));
                *line = format!("# {line}");
            }
            Err(e) => return Err(e),
        }
    }
    // Leading dashes break every checkpoint: drop them and say so.
    for s in &mut stmts {
        if let Some((a, b)) = s.dashes.take() {
            let old = lines[s.idx].clone();
            lines[s.idx].replace_range(a..b, "");
            if let Some(((vs, ve), v)) = s.value.take() {
                s.value = Some(((vs - (b - a), ve - (b - a)), v));
            }
            notes.push(format!(
                "repaired line {}: `{}` -> `{}` (CRIU rejects options with leading dashes in runc.conf, which breaks every checkpoint)",
                s.idx + 1,
                old.trim(),
                lines[s.idx].trim()
            ));
        }
    }
    let mut appended: Vec<String> = Vec::new();
    // One wish per option name, the last one given wins (as in CRIU).
    let want: Vec<&CriuOption> = want
        .iter()
        .enumerate()
        .filter(|(i, o)| !want[i + 1..].iter().any(|later| later.name == o.name))
        .map(|(_, o)| o)
        .collect();
    for opt in want {
        match lookup(&opt.name) {
            Some(Arg::Bool | Arg::Flag) => {
                let neg = format!("no-{}", opt.name);
                let last_pos = stmts.iter().rposition(|s| s.name == opt.name);
                let later_negs: Vec<usize> = stmts
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| s.name == neg && last_pos.is_none_or(|p| *i > p))
                    .map(|(_, s)| s.idx)
                    .collect();
                for idx in &later_negs {
                    notes.push(format!(
                        "commented out line {}: `{}` (it turns {} off)",
                        idx + 1,
                        lines[*idx].trim(),
                        opt.name
                    ));
                    lines[*idx] = format!("# {}", lines[*idx]);
                }
                stmts.retain(|s| !later_negs.contains(&s.idx));
                if last_pos.is_none() && !appended.contains(&opt.line()) {
                    appended.push(opt.line());
                    notes.push(format!("added `{}`", opt.line()));
                }
            }
            _ => {
                let last = stmts.iter_mut().rev().find(|s| s.name == opt.name);
                match last {
                    Some(s) if s.value.as_ref().map(|(_, v)| v) == opt.value.as_ref() => {}
                    Some(s) => {
                        let new_value = CriuOption {
                            name: String::new(),
                            value: opt.value.clone(),
                        }
                        .line()
                        .trim_start()
                        .to_string();
                        let old = lines[s.idx].clone();
                        match &s.value {
                            Some(((vs, ve), _)) => lines[s.idx].replace_range(*vs..*ve, &new_value),
                            // An optional-argument option written without a value.
                            None => lines[s.idx] = opt.line(),
                        }
                        s.value = Some(((0, 0), opt.value.clone().unwrap_or_default()));
                        notes.push(format!(
                            "changed line {}: `{}` -> `{}`",
                            s.idx + 1,
                            old.trim(),
                            lines[s.idx].trim()
                        ));
                    }
                    None => {
                        if !appended.contains(&opt.line()) {
                            appended.push(opt.line());
                            notes.push(format!("added `{}`", opt.line()));
                        }
                    }
                }
            }
        }
    }
    let mut out = lines.join("\n");
    if !lines.is_empty() && (ends_nl || !appended.is_empty()) {
        out.push('\n');
    }
    for l in appended {
        out.push_str(&l);
        out.push('\n');
    }
    if notes.is_empty() {
        // Byte-identical when nothing was to be done (a missing final newline stays missing).
        return Ok(Edit {
            text: text.to_string(),
            notes,
        });
    }
    Ok(Edit { text: out, notes })
}

/// What CRIU would make of the file: the effective value of each option
/// (for booleans `Some("")` when on, `None` when off or absent).
pub fn effective(text: &str, name: &str) -> Result<Option<String>, ConfError> {
    if let Some(pos) = text.find('\r') {
        return Err(ConfError {
            line: text[..pos].matches('\n').count() + 1,
            column: None,
            cause: "CRLF line endings".into(),
            repair: None,
        });
    }
    let mut state = None;
    for (idx, line) in split_lines(text).0.iter().enumerate() {
        if let Line::Stmt(s) = parse_line(line, idx)? {
            if s.dashes.is_some() {
                return Err(ConfError {
                    line: idx + 1,
                    column: None,
                    cause: format!("leading dashes in `{}`", line.trim()),
                    repair: None,
                });
            }
            if s.name == name {
                state = Some(s.value.map(|(_, v)| v).unwrap_or_default());
            } else if s.name.strip_prefix("no-") == Some(name) {
                state = None;
            }
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp() -> Vec<CriuOption> {
        vec![CriuOption::flag("tcp-established")]
    }

    fn ensure(text: &str) -> Edit {
        ensure_options(text, &tcp(), false).unwrap()
    }

    #[test]
    fn empty_and_missing_file() {
        assert_eq!(ensure("").text, "tcp-established\n");
    }

    #[test]
    fn already_set_is_byte_identical() {
        for t in [
            "tcp-established\n",
            "tcp-established",
            "  tcp-established   # trailing\n",
            "no-tcp-established\ntcp-established\n",
            "# tcp-established\ntcp-established\n",
        ] {
            let e = ensure(t);
            assert_eq!(e.text, t);
            assert!(e.notes.is_empty());
        }
    }

    #[test]
    fn keeps_other_lines_and_missing_final_newline() {
        let e = ensure("# mine\nghost-limit 100M\nlog-file=/tmp/x");
        assert_eq!(
            e.text,
            "# mine\nghost-limit 100M\nlog-file=/tmp/x\ntcp-established\n"
        );
    }

    #[test]
    fn comment_does_not_count() {
        assert_eq!(
            ensure("# tcp-established\n").text,
            "# tcp-established\ntcp-established\n"
        );
    }

    #[test]
    fn later_negation_is_commented_out() {
        let e = ensure("tcp-established\nno-tcp-established\n");
        assert_eq!(e.text, "tcp-established\n# no-tcp-established\n");
        let e = ensure("no-tcp-established\n");
        assert_eq!(e.text, "# no-tcp-established\ntcp-established\n");
        assert_eq!(
            effective(&e.text, "tcp-established").unwrap(),
            Some(String::new())
        );
    }

    #[test]
    fn leading_dashes_repaired() {
        let e = ensure("--tcp-established\n");
        assert_eq!(e.text, "tcp-established\n");
        assert!(e.notes[0].contains("repaired line 1"));
        let e = ensure("  ----ghost-limit 10M\n");
        assert_eq!(e.text, "  ghost-limit 10M\ntcp-established\n");
    }

    #[test]
    fn value_options() {
        let want = vec![CriuOption::parse("ghost-limit 100M").unwrap()];
        let e = ensure_options("ghost-limit 1M # small\n", &want, false).unwrap();
        assert_eq!(e.text, "ghost-limit 100M # small\n");
        let e = ensure_options("ghost-limit=1M\n", &want, false).unwrap();
        assert_eq!(e.text, "ghost-limit=100M\n");
        let e = ensure_options("ghost-limit 100M\n", &want, false).unwrap();
        assert!(e.notes.is_empty());
        let want = vec![CriuOption::parse("log-file /tmp/a b").unwrap()];
        let e = ensure_options("", &want, false).unwrap();
        assert_eq!(e.text, "log-file \"/tmp/a b\"\n");
        assert!(
            ensure_options(&e.text, &want, false)
                .unwrap()
                .notes
                .is_empty()
        );
    }

    #[test]
    fn bad_input_is_refused_unless_repaired() {
        for (text, line) in [
            ("tcp-established\r\n", 1),
            ("a\n", 1),
            ("# ok\nhello world!\n", 2),
            ("log-file \"/tmp/x\n", 1),
            ("ghost-limit\n", 1),
            ("tcp-established yes\n", 1),
        ] {
            let err = ensure_options(text, &tcp(), false).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            assert!(err.repair.is_some());
            let fixed = ensure_options(text, &tcp(), true).unwrap();
            assert!(effective(&fixed.text, "tcp-established").unwrap().is_some());
        }
    }

    #[test]
    fn option_spec_parsing() {
        assert_eq!(
            CriuOption::parse("--skip-in-flight").unwrap(),
            CriuOption::flag("skip-in-flight")
        );
        assert_eq!(
            CriuOption::parse("ghost-limit=100M")
                .unwrap()
                .value
                .as_deref(),
            Some("100M")
        );
        assert!(CriuOption::parse("bogus").is_err());
        assert!(CriuOption::parse("ghost-limit").is_err());
        assert!(CriuOption::parse("tcp-established yes").is_err());
    }
}
