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

/// Options whose value may contain spaces (paths and the like); every other
/// option takes one word, so `ghost-limit 100M 200M` is two values.
const SPACED_VALUES: &[&str] = &[
    "images-dir",
    "work-dir",
    "log-file",
    "root",
    "pidfile",
    "action-script",
    "prev-images-dir",
    "libdir",
    "cgroup-root",
    "inherit-fd",
    "ext-mount-map",
    "skip-mnt",
    "freeze-cgroup",
    "irmap-scan-path",
    "external",
    "join-ns",
    "cgroup-props",
    "cgroup-props-file",
    "tls-cacert",
    "tls-cacrl",
    "tls-cert",
    "tls-key",
    "cgroup-yard",
];

/// Characters a `--criu-option` may not contain anywhere: control characters
/// (C0 with TAB, CR and LF, DEL, C1 with NEL), line and paragraph separators,
/// any whitespace but the plain space, and invisible format characters
/// (zero-width, bidi overrides, BOM). CRIU reads runc.conf line by line and
/// splits words on space and TAB; none of these can be written safely.
fn forbidden_char(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

/// Whether a word of a value reads as a CRIU option (`tcp-established`,
/// `--tcp-established`, `no-tcp-established`, `tcp-established=1`).
fn names_an_option(word: &str) -> bool {
    let w = word.trim_start_matches('-');
    let w = w.split_once('=').map_or(w, |(n, _)| n);
    lookup(w).is_some() || w.strip_prefix("no-").and_then(lookup) == Some(Arg::Bool)
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

    /// Parse `NAME`, `NAME VALUE` or `NAME=VALUE` as given to `--criu-option`,
    /// completely: what this accepts can be written to runc.conf as one
    /// statement that CRIU reads back as exactly this option and value. Every
    /// error names the spec and says how to fix it.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let fail = |why: String| Err(format!("--criu-option {spec:?}: {why}"));
        if let Some(c) = spec.chars().find(|&c| forbidden_char(c)) {
            return fail(format!(
                "contains U+{:04X} ({}), a control, line-break or invisible character; write the option on one line, with plain spaces",
                c as u32,
                c.escape_unicode()
            ));
        }
        let trimmed = spec.trim_matches(' ');
        let (name, rest) = trimmed.split_at(trimmed.find([' ', '=']).unwrap_or(trimmed.len()));
        let name = name.trim_start_matches('-');
        let value = rest.strip_prefix('=').unwrap_or(rest).trim_matches(' ');
        if name.is_empty() {
            return fail(
                "empty option name; write a CRIU long option such as `skip-in-flight` or `ghost-limit 100M`"
                    .into(),
            );
        }
        let Some(arg) = lookup(name) else {
            return fail(format!(
                "'{name}' is not a CRIU option (see `criu --help`; write it without leading dashes)"
            ));
        };
        let value = (!value.is_empty()).then(|| value.to_string());
        if let Some(v) = &value {
            let words: Vec<&str> = v.split(' ').filter(|w| !w.is_empty()).collect();
            if let Some(w) = words
                .iter()
                .enumerate()
                .find(|(k, w)| {
                    // A flag takes no value at all; else the first word may be
                    // a value that happens to be an option name (`cpu-cap all`).
                    names_an_option(w)
                        && (*k > 0 || w.starts_with('-') || matches!(arg, Arg::Bool | Arg::Flag))
                })
                .map(|(_, w)| w.trim_matches('"'))
            {
                return fail(format!(
                    "'{w}' looks like a second option; give each option its own --criu-option (e.g. --criu-option '{}')",
                    w.trim_start_matches('-')
                ));
            }
            if let Some(w) = words.iter().find(|w| w.starts_with('-')) {
                return fail(format!(
                    "'{w}' looks like an option, not a value; give each option its own --criu-option"
                ));
            }
            if v.starts_with('=') {
                return fail(format!(
                    "write NAME=VALUE or NAME VALUE (e.g. `{name}={}`)",
                    v.trim_start_matches(['=', ' '])
                ));
            }
            if let Some(w) = words.iter().find(|w| w.starts_with('#')) {
                return fail(format!(
                    "'{w}' would start a comment in runc.conf; remove it and give the value alone"
                ));
            }
            if v.contains(['"', '\'']) {
                return fail(format!(
                    "remove the quotes around the value of '{name}': dockpoint quotes it in runc.conf where needed"
                ));
            }
            if words.len() > 1 && !SPACED_VALUES.contains(&name) {
                return fail(format!(
                    "'{name}' takes one value, got {}: {}; give one value",
                    words.len(),
                    words.join(", ")
                ));
            }
            if v.ends_with('\\') && v.contains([' ', '#']) {
                return fail(
                    "a quoted value cannot end with a backslash (CRIU reads `\\\"` as an escaped quote); remove the trailing backslash"
                        .into(),
                );
            }
        }
        match (arg, value) {
            (Arg::Required, None) => fail(format!(
                "CRIU option '{name}' needs a value; write `{name} VALUE`"
            )),
            (Arg::Bool | Arg::Flag, Some(v)) => fail(format!(
                "CRIU option '{name}' takes no value (got '{v}'); write just `{name}`"
            )),
            (_, value) => Ok(CriuOption {
                name: name.into(),
                value,
            }),
        }
    }

    /// The line as written to runc.conf (without newline): `name`,
    /// `name value`, `name "a value"`, or `name=value` for an optional
    /// argument (getopt takes a separate word as a stray argument).
    pub fn line(&self) -> String {
        match &self.value {
            None => self.name.clone(),
            Some(v) if lookup(&self.name) == Some(Arg::Optional) => format!("{}={v}", self.name),
            Some(v) => format!("{} {}", self.name, quoted(v)),
        }
    }
}

/// A value as one runc.conf word: quoted when it has whitespace or a `#`.
fn quoted(v: &str) -> String {
    if v.chars().any(char::is_whitespace) || v.contains('#') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

/// Parse every `--criu-option` value; the same option given twice with
/// different values is an error, given again with the same value a no-op.
pub fn parse_all(specs: &[String]) -> Result<Vec<CriuOption>, String> {
    let mut out: Vec<(CriuOption, &String)> = Vec::new();
    for spec in specs {
        let o = CriuOption::parse(spec)?;
        match out.iter().find(|(p, _)| p.name == o.name) {
            Some((p, _)) if *p == o => {}
            Some((_, first)) => {
                return Err(format!(
                    "--criu-option {first:?} and --criu-option {spec:?} both set '{}' to different values; give it once, with the value you want",
                    o.name
                ));
            }
            None => out.push((o, spec)),
        }
    }
    Ok(out.into_iter().map(|(o, _)| o).collect())
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
    /// Byte range of the first word (dashes, name, maybe `=value`).
    first: (usize, usize),
    /// Whether the value is given as `name=value`.
    eq: bool,
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
                        column: Some(line[..start].chars().count() + 1),
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
    let eq = word.contains('=');
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
        first: (s, e),
        eq,
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
            s.first.1 -= b - a;
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
            arg => {
                let optional = arg == Some(Arg::Optional);
                let last = stmts.iter_mut().rev().find(|s| s.name == opt.name);
                match last {
                    // An optional argument only counts as `name=value`.
                    Some(s)
                        if s.value.as_ref().map(|(_, v)| v) == opt.value.as_ref()
                            && (s.eq || !optional || opt.value.is_none()) => {}
                    Some(s) => {
                        let old = lines[s.idx].clone();
                        let new_value = opt.value.as_deref().map(quoted);
                        match (&s.value, &new_value) {
                            // Just the value, where it stays one word as CRIU reads it.
                            (Some(((vs, ve), _)), Some(v))
                                if !(optional || (s.eq && v.starts_with('"'))) =>
                            {
                                lines[s.idx].replace_range(*vs..*ve, v);
                            }
                            // Else the whole statement, comments and indentation kept.
                            _ => {
                                let end = s.value.as_ref().map_or(s.first.1, |((_, ve), _)| *ve);
                                lines[s.idx]
                                    .replace_range(s.first.0..end.max(s.first.1), &opt.line());
                            }
                        }
                        s.value = opt.value.clone().map(|v| ((0, 0), v));
                        s.eq = true;
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

/// Every option of `want` in effect in `bytes` (a candidate runc.conf), as
/// asked: a flag on, a value equal; else which one is not.
pub fn check_in_effect(want: &[CriuOption], bytes: &[u8]) -> anyhow::Result<()> {
    let text = std::str::from_utf8(bytes)?;
    for opt in want {
        let eff = effective(text, &opt.name)?;
        let ok = match &opt.value {
            None => eff.is_some(),
            Some(v) => eff.as_ref() == Some(v),
        };
        if !ok {
            anyhow::bail!("`{opt}` is not in effect in the new runc.conf");
        }
    }
    Ok(())
}

/// Whether `text` turns the flag `name` on (`None`: the file does not parse).
pub fn flag_on(text: &str, name: &str) -> Option<bool> {
    effective(text, name).ok().map(|v| v.is_some())
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
                // getopt gives an optional argument only as `name=value`.
                let given = s.eq || lookup(name) != Some(Arg::Optional);
                state = Some(
                    s.value
                        .filter(|_| given)
                        .map(|(_, v)| v)
                        .unwrap_or_default(),
                );
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

    #[test]
    fn an_unclosed_quote_is_placed_by_characters_not_bytes() {
        let want = [CriuOption::flag("tcp-established")];
        let e = ensure_options("\u{e9}\u{e9}\t\"", &want, false).unwrap_err();
        assert_eq!((e.line, e.column), (1, Some(4)), "{}", e.cause);
    }

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

    /// Issue 3: no control, line-separator or invisible character anywhere
    /// in a `--criu-option`, not even at the end (it used to be trimmed away).
    #[test]
    fn parse_rejects_control_and_separator_characters() {
        for bad in [
            "\n", "\r", "\t", "\u{0}", "\u{b}", "\u{c}", "\u{1b}", "\u{7f}", "\u{85}", "\u{9b}",
            "\u{2028}", "\u{2029}", "\u{a0}", "\u{3000}", "\u{200b}", "\u{202e}", "\u{feff}",
        ] {
            for spec in [
                format!("skip-in-flight{bad}"),
                format!("{bad}skip-in-flight"),
                format!("skip-in{bad}-flight"),
                format!("ghost-limit{bad}100M"),
                format!("ghost-limit 100M{bad}"),
                format!("ghost-limit 10{bad}0M"),
                format!("log-file /tmp/a{bad}b"),
                format!("log-file=/tmp/a{bad}b"),
            ] {
                let err = CriuOption::parse(&spec).expect_err(&format!("{spec:?} accepted"));
                assert!(err.contains(&format!("{spec:?}")), "{err}");
                assert!(err.contains("\\u{"), "names the character: {err}");
            }
        }
    }

    /// Issue 3: a value must not carry a second option, a comment, quotes or
    /// a second value.
    #[test]
    fn parse_rejects_smuggled_options_comments_quotes_and_second_values() {
        for (spec, needle) in [
            ("ghost-limit 100M skip-in-flight", "its own --criu-option"),
            (
                "ghost-limit \"1M\" --tcp-established",
                "its own --criu-option",
            ),
            ("ghost-limit 1M no-tcp-established", "its own --criu-option"),
            ("log-file /tmp/x --tcp-established", "its own --criu-option"),
            ("log-file /tmp/x tcp-established=1", "its own --criu-option"),
            ("skip-in-flight tcp-established", "its own --criu-option"),
            ("ghost-limit --tcp-established", "its own --criu-option"),
            ("ghost-limit 1M # big", "comment"),
            ("ghost-limit #1M", "comment"),
            ("log-file /tmp/a #b", "comment"),
            ("ghost-limit \"1M\"", "quote"),
            ("log-file '/tmp/a b'", "quote"),
            ("ghost-limit 100M 200M", "one value"),
            ("ghost-limit=1M 2M", "one value"),
            ("manage-cgroups soft full", "one value"),
            ("log-file /tmp/a b\\", "backslash"),
            ("ghost-limit = 1M", "NAME=VALUE"),
            ("", "empty"),
            ("--", "empty"),
        ] {
            let err = CriuOption::parse(spec).expect_err(spec);
            assert!(err.contains(needle), "{spec}: {err}");
            assert!(err.contains(&format!("{spec:?}")), "{spec}: {err}");
        }
    }

    /// Issue 3: a non-ASCII space between name and value sliced a UTF-8
    /// character in half (a panic); now it is refused.
    #[test]
    fn parse_does_not_panic_on_wide_separators() {
        for spec in [
            "ghost-limit\u{a0}1M",
            "ghost-limit\u{3000}1M",
            "é",
            "ghost-limit 1M\u{2028}é",
        ] {
            assert!(CriuOption::parse(spec).is_err(), "{spec:?}");
        }
    }

    /// Issue 3: what `parse` accepts is written so that CRIU and `effective`
    /// read the same value back; optional arguments need `name=value`
    /// (getopt takes a separate word as a stray argument).
    #[test]
    fn accepted_options_round_trip_through_runc_conf() {
        for (spec, line) in [
            ("skip-in-flight", "skip-in-flight"),
            ("--tcp-close", "tcp-close"),
            ("ghost-limit 100M", "ghost-limit 100M"),
            ("ghost-limit=100M", "ghost-limit 100M"),
            ("  ghost-limit   100M  ", "ghost-limit 100M"),
            ("log-file /tmp/a b", "log-file \"/tmp/a b\""),
            ("log-file /tmp/a#b", "log-file \"/tmp/a#b\""),
            ("manage-cgroups soft", "manage-cgroups=soft"),
            ("manage-cgroups", "manage-cgroups"),
            ("cpu-cap all", "cpu-cap=all"),
            ("log-file /tmp/é x", "log-file \"/tmp/é x\""),
        ] {
            let o = CriuOption::parse(spec).unwrap();
            assert_eq!(o.line(), line, "{spec}");
            for before in [
                "",
                "# mine\n",
                "manage-cgroups=full\ncpu-cap fpu\nghost-limit=1M # c\nlog-file=/tmp/y\nskip-in-flight\n",
            ] {
                let e = ensure_options(before, std::slice::from_ref(&o), false).unwrap();
                let want = o.value.clone().unwrap_or_default();
                assert_eq!(
                    effective(&e.text, &o.name).unwrap(),
                    Some(want),
                    "{spec} in {before:?}:\n{}",
                    e.text
                );
                // The statement is written the way CRIU reads it.
                let stmt = e
                    .text
                    .lines()
                    .rfind(|l| l.trim_start().starts_with(&o.name))
                    .unwrap();
                assert!(!stmt.contains(&format!("{}=\"", o.name)), "{stmt}");
                if matches!(lookup(&o.name), Some(Arg::Optional)) {
                    assert!(stmt.starts_with(&o.line()), "{stmt}");
                }
            }
        }
    }

    /// Issue 3: the same option twice with different values is refused; the
    /// same option again (e.g. `tcp-established`) is a no-op.
    #[test]
    fn parse_all_refuses_conflicting_repeats() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_all(&s(&[
                "tcp-established",
                "--tcp-established",
                "skip-in-flight"
            ]))
            .unwrap(),
            vec![
                CriuOption::flag("tcp-established"),
                CriuOption::flag("skip-in-flight")
            ]
        );
        assert_eq!(
            parse_all(&s(&["ghost-limit 1M", "--ghost-limit=1M"]))
                .unwrap()
                .len(),
            1
        );
        let err =
            parse_all(&s(&["ghost-limit 1M", "skip-in-flight", "ghost-limit=2M"])).unwrap_err();
        assert!(
            err.contains("\"ghost-limit 1M\"") && err.contains("\"ghost-limit=2M\""),
            "{err}"
        );
        assert!(err.contains("once"), "{err}");
        let err = parse_all(&s(&["skip-in-flight", "bogus"])).unwrap_err();
        assert!(err.contains("\"bogus\""), "{err}");
        assert!(parse_all(&[]).unwrap().is_empty());
    }

    /// Changing an optional-argument option to no value used to leave
    /// `manage-cgroups=` (an empty argument, which CRIU rejects).
    #[test]
    fn optional_option_without_value_drops_the_old_value() {
        let want = vec![CriuOption::flag("manage-cgroups")];
        for before in [
            "manage-cgroups=full\n",
            "manage-cgroups full # x\n",
            "--manage-cgroups=full\n",
        ] {
            let e = ensure_options(before, &want, false).unwrap();
            assert!(
                e.text.starts_with("manage-cgroups\n") || e.text.starts_with("manage-cgroups #"),
                "{before:?} -> {:?}",
                e.text
            );
            assert_eq!(
                effective(&e.text, "manage-cgroups").unwrap(),
                Some(String::new())
            );
        }
    }

    /// getopt gives an optional argument only as `name=value`: in
    /// `cpu-cap fpu` the `fpu` is a stray word and cpu-cap has no value.
    #[test]
    fn a_candidate_passes_only_with_every_wanted_option_in_effect() {
        let want = [
            CriuOption::flag("tcp-established"),
            CriuOption::parse("ghost-limit 100M").unwrap(),
        ];
        assert!(check_in_effect(&want, b"tcp-established\nghost-limit 100M\n").is_ok());
        for bad in [
            &b"ghost-limit 100M\n"[..],
            b"tcp-established\nno-tcp-established\nghost-limit 100M\n",
            b"tcp-established\nghost-limit 1M\n",
            b"tcp-established\n\xff\n",
        ] {
            assert!(
                check_in_effect(&want, bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(flag_on("tcp-close\n", "tcp-close"), Some(true));
        assert_eq!(
            flag_on("tcp-close\nno-tcp-close\n", "tcp-close"),
            Some(false)
        );
        assert_eq!(flag_on("--tcp-close\n", "tcp-close"), None);
    }

    #[test]
    fn effective_reads_optional_arguments_like_getopt() {
        assert_eq!(
            effective("cpu-cap fpu\n", "cpu-cap").unwrap(),
            Some(String::new())
        );
        assert_eq!(
            effective("cpu-cap=fpu\n", "cpu-cap").unwrap(),
            Some("fpu".into())
        );
        assert_eq!(
            effective("ghost-limit 1M\n", "ghost-limit").unwrap(),
            Some("1M".into())
        );
        // Wanting the value rewrites the statement in the form CRIU reads.
        let want = [CriuOption::parse("manage-cgroups soft").unwrap()];
        let e = ensure_options("manage-cgroups soft # x\n", &want, false).unwrap();
        assert_eq!(e.text, "manage-cgroups=soft # x\n");
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
