//! `dockpoint explain`: any pasted docker / CRIU error, journal excerpt or
//! CRIU log in; each recognised failure out with its cause and fix.
//!
//! The input surface: TEXT arguments; `--file PATH` (a regular file, or the
//! pipe that is stdin: opened non-blocking and checked with fstat, so a FIFO
//! or a device is refused at once); stdin; and the CRIU logs the text names
//! after `path=`, opened only through the host root (`rootfs`, so a path
//! never leaves `--root`), at most [`scan::MAX_LOGS`] of them. Every stream
//! is scanned in a bounded buffer; input echoed in human output is escaped.

pub mod catalogue;
pub mod literals;
pub mod scan;

use crate::cli::{ExplainArgs, Format};
use crate::host::Host;
use catalogue::{CATALOGUE, Confidence, Entry};
pub use scan::{Findings, Scanner};
use serde::Serialize;
use std::fs::File;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub id: &'static str,
    pub title: &'static str,
    pub matched: String,
    pub cause: String,
    pub fix: Vec<String>,
    pub confidence: Confidence,
    /// Where the matched line was: "input" or a CRIU log's path.
    pub source: String,
    pub count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnosis {
    fn from_entry(e: &Entry, matched: String, source: String, count: usize) -> Self {
        Diagnosis {
            id: e.id,
            title: e.title,
            matched,
            cause: e.cause.to_string(),
            fix: e.fix.iter().map(|s| s.to_string()).collect(),
            confidence: e.confidence,
            source,
            count,
            links: e.links.to_vec(),
            notes: Vec::new(),
        }
    }
}

/// A CRIU log named in the input that was not read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LogRefusal {
    pub path: String,
    pub reason: String,
}

#[derive(Serialize)]
pub struct Report {
    pub format_version: u32,
    pub diagnoses: Vec<Diagnosis>,
    pub logs_read: Vec<String>,
    /// Every log named that could not be read (absent, refused, failed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs_unreadable: Vec<String>,
    /// The ones among them that exist, with the reason (not a regular
    /// file, no permission, a read error).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs_refused: Vec<LogRefusal>,
    /// Log paths named beyond the first [`scan::MAX_LOGS`] distinct ones,
    /// which were not followed (mentions, not deduplicated).
    #[serde(skip_serializing_if = "is_zero")]
    pub logs_not_followed: u64,
    /// Lines longer than [`scan::BUFFER`] bytes, matched in pieces.
    #[serde(skip_serializing_if = "is_zero")]
    pub long_lines: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

const GENERIC_SHOWN: &str = "criu failed: type NOTIFY errno 0";

/// Turn findings into diagnoses. Ranked by confidence, then by where the
/// first line was. A diagnosis seen only on weak lines is possible; a
/// secondary one (iptables-restore noise while CRIU unlocks the network) is
/// possible and says so when another specific diagnosis is there. The
/// generic message leads with tcp-established-missing only when nothing
/// specific was found, checked against this host's runc.conf.
pub fn diagnose(
    host: &Host,
    f: Findings,
    logs_read: Vec<String>,
    unreadable: Vec<String>,
) -> Report {
    let mut found: Vec<(usize, Diagnosis)> = f
        .hits
        .iter()
        .map(|(i, h)| {
            let e = &CATALOGUE[*i];
            let seen = h.strong.as_ref().or(h.weak.as_ref()).expect("a hit has a line");
            let mut d = Diagnosis::from_entry(e, seen.line.clone(), seen.source.clone(), h.count);
            if h.strong.is_none() {
                d.confidence = Confidence::Possible;
                d.notes.push(
                    "this line also appears as a side effect of other failures: look for another error near it".into(),
                );
            }
            (seen.order, d)
        })
        .collect();
    found.sort_by_key(|(order, _)| *order);
    let mut out: Vec<Diagnosis> = found.into_iter().map(|(_, d)| d).collect();
    let is_secondary = |id: &str| CATALOGUE.iter().any(|e| e.id == id && e.secondary);
    let cause = out
        .iter()
        .find(|d| !is_secondary(d.id) && d.confidence >= Confidence::Likely)
        .map(|d| d.id);
    if let Some(cause) = cause {
        for d in out.iter_mut().filter(|d| is_secondary(d.id)) {
            d.confidence = Confidence::Possible;
            d.notes.push(format!(
                "CRIU runs iptables-restore again to unlock the network after any failed dump or restore, and prints such lines then: here they follow from {cause}"
            ));
        }
    }
    if let Some(generic) = f.generic {
        let specific = out.iter().any(|d| d.confidence >= Confidence::Likely);
        if specific {
            // The one that leads after the (stable) sort below.
            let top = out.iter().map(|d| d.confidence).max().expect("specific");
            let lead = out
                .iter_mut()
                .find(|d| d.confidence == top)
                .expect("specific");
            lead.notes.push(format!(
                "docker's `{}` is generic; the cause came from {}",
                GENERIC_SHOWN, lead.source
            ));
        } else {
            let e = CATALOGUE
                .iter()
                .find(|e| e.id == "tcp-established-missing")
                .expect("in the catalogue");
            let mut d = Diagnosis::from_entry(e, generic, "input".into(), 1);
            d.notes.push(format!(
                "this message is generic: every CRIU failure reads `{GENERIC_SHOWN}`; the seed documents it as a missing tcp-established, but the cause is in the CRIU log it names after `path=`"
            ));
            match host.fs.read_text("/etc/criu/runc.conf").ok().flatten() {
                Some(text) => match crate::runc_conf::effective(&text, "tcp-established") {
                    Ok(Some(_)) => {
                        d.confidence = Confidence::Possible;
                        d.notes.push("this host's /etc/criu/runc.conf has tcp-established, so it is probably something else: read the CRIU log".into());
                    }
                    Ok(None) => {
                        d.confidence = Confidence::Likely;
                        d.notes.push("this host's /etc/criu/runc.conf has no active tcp-established line: that fits".into());
                    }
                    Err(e) => {
                        d.confidence = Confidence::Likely;
                        d.notes.push(format!("this host's /etc/criu/runc.conf does not parse ({e}): CRIU rejects it, see runc-conf-invalid"));
                    }
                },
                None => {
                    d.confidence = Confidence::Likely;
                    d.notes.push("this host has no /etc/criu/runc.conf, so tcp-established is not set: that fits".into());
                }
            }
            for p in &unreadable {
                d.notes.push(format!(
                    "could not read the CRIU log {p} here: run explain on the docker host as root, or pass it with --file"
                ));
            }
            out.insert(0, d);
        }
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.confidence));
    Report {
        format_version: 1,
        diagnoses: out,
        logs_read,
        logs_unreadable: unreadable,
        logs_refused: Vec::new(),
        logs_not_followed: f.logs_not_followed,
        long_lines: f.long_lines,
    }
}

/// The (device, inode) of an open file.
fn identity(st: &nix::sys::stat::FileStat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

fn kind(st: &nix::sys::stat::FileStat) -> nix::sys::stat::SFlag {
    use nix::sys::stat::SFlag;
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// Open `--file PATH` on this machine: a regular file, or the pipe that is
/// stdin (`/dev/stdin`, `-`). Opened non-blocking, so a FIFO without a
/// writer is refused at once instead of waited on; anything else (a FIFO, a
/// device, a directory, a socket) is refused with what it is.
pub fn open_input(path: &Path) -> Result<File, String> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use nix::sys::stat::{Mode, SFlag, fstat};
    let shown = escape(&path.display().to_string());
    if path == Path::new("-") {
        return stdin_file();
    }
    let fd = match nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENXIO) => {
            return Err(format!(
                "{shown} is a socket: explain reads regular files (pipe other input in on stdin)"
            ));
        }
        Err(e) => return Err(format!("cannot open {shown}: {}", e.desc())),
    };
    let st = fstat(&fd).map_err(|e| format!("cannot stat {shown}: {}", e.desc()))?;
    let stdin_pipe = kind(&st) == SFlag::S_IFIFO
        && fstat(std::io::stdin()).is_ok_and(|s| identity(&s) == identity(&st));
    if kind(&st) != SFlag::S_IFREG && !stdin_pipe {
        return Err(format!(
            "{shown} is {}: explain reads regular files; pipe anything else in on stdin (... | dockpoint explain)",
            crate::rootfs::describe_mode(st.st_mode)
        ));
    }
    let flags = fcntl(&fd, FcntlArg::F_GETFL).map_err(|e| e.desc().to_string())?;
    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
    fcntl(&fd, FcntlArg::F_SETFL(flags)).map_err(|e| e.desc().to_string())?;
    Ok(File::from(fd))
}

/// stdin, when it is something explain can read to its end: a regular
/// file, a pipe, a socket, a terminal, or /dev/null. Another device
/// (`< /dev/zero`) would never end: refused.
fn stdin_file() -> Result<File, String> {
    use nix::sys::stat::{SFlag, fstat};
    use std::io::IsTerminal;
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let st = fstat(&stdin).map_err(|e| format!("cannot stat stdin: {}", e.desc()))?;
    let null = nix::sys::stat::major(st.st_rdev) == 1 && nix::sys::stat::minor(st.st_rdev) == 3;
    match kind(&st) {
        SFlag::S_IFCHR if !stdin.is_terminal() && !null => {
            return Err(format!(
                "stdin is {}: explain reads text to its end (a file, a pipe)",
                crate::rootfs::describe_mode(st.st_mode)
            ));
        }
        SFlag::S_IFDIR => return Err("stdin is a directory".into()),
        _ => {}
    }
    let fd = stdin
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(File::from(fd))
}

/// `dockpoint explain`. Returns the exit code.
pub fn run(args: &ExplainArgs) -> crate::exit::Exit {
    crate::ui::finish(crate::exit::Exit::from_code(run_code(args)))
}

fn run_code(args: &ExplainArgs) -> i32 {
    use std::io::IsTerminal;
    let host = match Host::new(
        args.root.clone(),
        Box::new(crate::host::SystemRunner),
        crate::host::Term::detect(),
    ) {
        Ok(h) => h,
        Err(e) => {
            crate::ui::error(&escape(&format!("--root: {e:#}")));
            return crate::host::root_error_exit(&e).code();
        }
    };
    if args.print_patterns {
        for p in scan::patterns() {
            crate::ui::println(p);
        }
        return 0;
    }
    let scanner = Scanner::new();
    let mut f = Findings::default();
    let mut any_input = false;
    let text: Vec<&str> = args
        .text
        .iter()
        .filter(|t| *t != "-")
        .map(String::as_str)
        .collect();
    if !text.is_empty() {
        any_input = true;
        let joined = text.join("\n");
        // Bounded like any stream: a huge argument is read in pieces too.
        let _ = scanner.scan_reader(&mut joined.as_bytes(), "input", &mut f);
    }
    for path in &args.file {
        any_input = true;
        let source = path.display().to_string();
        let mut file = match open_input(path) {
            Ok(file) => file,
            Err(e) => {
                crate::ui::error(&e);
                return 2;
            }
        };
        if let Err(e) = scanner.scan_reader(&mut file, &source, &mut f) {
            crate::ui::error(&format!("cannot read {}: {e}", escape(&source)));
            return 2;
        }
    }
    let want_stdin =
        args.text.iter().any(|t| t == "-") || (!any_input && !std::io::stdin().is_terminal());
    if want_stdin {
        any_input = true;
        let mut stdin = match stdin_file() {
            Ok(s) => s,
            Err(e) => {
                crate::ui::error(&e);
                return 2;
            }
        };
        if let Err(e) = scanner.scan_reader(&mut stdin, "input", &mut f) {
            crate::ui::error(&format!("cannot read stdin: {e}"));
            return 2;
        }
    }
    if !any_input {
        crate::ui::error(
            "nothing to explain: paste the error as an argument (dockpoint explain 'Error response from daemon: ...'), give --file PATH, or pipe it in (journalctl -u docker | dockpoint explain)",
        );
        return 2;
    }
    let report = follow_logs_and_diagnose(&host, &scanner, f);
    print(&report, args.format);
    if report.diagnoses.is_empty() { 1 } else { 0 }
}

/// Follow the CRIU logs the findings name (inside the host root only),
/// then diagnose.
fn follow_logs_and_diagnose(host: &Host, scanner: &Scanner, mut f: Findings) -> Report {
    // Follow the CRIU logs the text names, inside the host root only.
    let mut read = Vec::new();
    let mut unreadable = Vec::new();
    let mut refused = Vec::new();
    for p in f.take_log_paths() {
        match host.fs.open_file(&p) {
            Ok(Some(mut file)) => match scanner.scan_reader(&mut file, &p, &mut f) {
                Ok(_) => read.push(p),
                Err(e) => {
                    refused.push(LogRefusal {
                        path: p.clone(),
                        reason: format!("cannot read it: {e}"),
                    });
                    unreadable.push(p);
                }
            },
            Ok(None) => unreadable.push(p),
            Err(e) => {
                refused.push(LogRefusal {
                    path: p.clone(),
                    reason: format!("{e:#}"),
                });
                unreadable.push(p);
            }
        }
    }
    let mut report = diagnose(host, f, read, unreadable);
    report.logs_refused = refused;
    report
}

/// Explain an error text (as docker returned it) and the CRIU logs it
/// names, plus `logs` (e.g. a copy kept before docker deleted the
/// original): the library form of `dockpoint explain`, for the workflow.
pub fn explain_text(host: &Host, text: &str, logs: &[String]) -> Report {
    let scanner = Scanner::new();
    let mut f = Findings::default();
    let _ = scanner.scan_reader(&mut text.as_bytes(), "input", &mut f);
    let mut report_logs = Vec::new();
    for p in logs {
        if let Ok(Some(mut file)) = host.fs.open_file(p)
            && scanner.scan_reader(&mut file, p, &mut f).is_ok()
        {
            report_logs.push(p.clone());
        }
    }
    let mut report = follow_logs_and_diagnose(host, &scanner, f);
    for p in report_logs {
        if !report.logs_read.contains(&p) {
            report.logs_read.push(p);
        }
    }
    report
}

/// Text from the input as it may be shown on a terminal: control characters
/// (C0, DEL, C1), line and paragraph separators and bidirectional controls
/// escaped, so a pasted text cannot move the cursor, retitle the window or
/// fake a line of output.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{80}'..='\u{9f}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn print(r: &Report, format: Format) {
    use console::style;
    if format == Format::Json {
        crate::ui::println(&serde_json::to_string_pretty(r).expect("serialises"));
        return;
    }
    for p in &r.logs_read {
        crate::ui::println(&format!("read the CRIU log {}", escape(p)));
    }
    for x in &r.logs_refused {
        crate::ui::println(&format!(
            "refused the CRIU log {}: {}",
            escape(&x.path),
            escape(&x.reason)
        ));
    }
    if r.logs_not_followed > 0 {
        crate::ui::println(&format!(
            "{} more CRIU log paths named were not followed: explain follows the first {} distinct ones (pass another with --file)",
            r.logs_not_followed,
            scan::MAX_LOGS
        ));
    }
    if r.long_lines > 0 {
        crate::ui::println(&format!(
            "{} longer than {} MiB matched in overlapping pieces",
            if r.long_lines == 1 {
                "1 line".to_string()
            } else {
                format!("{} lines", r.long_lines)
            },
            scan::BUFFER >> 20
        ));
    }
    if r.diagnoses.is_empty() {
        crate::ui::println(&format!("{} nothing recognised.", style("?").yellow()));
        crate::ui::println(
            "    Send the CRIU log: the file after `path=` in docker's error (.../criu-dump.log or restore.log),",
        );
        crate::ui::println(
            "    or run: dockpoint explain --file /run/containerd/io.containerd.runtime.v2.task/moby/<id>/criu-dump.log",
        );
        for p in &r.logs_unreadable {
            crate::ui::println(&format!("    (named but not readable here: {})", escape(p)));
        }
        return;
    }
    for d in &r.diagnoses {
        let conf = serde_json::to_value(d.confidence)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        crate::ui::println(&format!(
            "{} {}: {} [{conf}]",
            style("✗").red(),
            style(d.id).bold(),
            d.title
        ));
        let times = if d.count > 1 {
            format!(" ({} times)", d.count)
        } else {
            String::new()
        };
        crate::ui::println(&format!("    matched{times}: {}", escape(&d.matched)));
        if d.source != "input" {
            crate::ui::println(&format!("    in: {}", escape(&d.source)));
        }
        crate::ui::println(&format!("    cause: {}", d.cause));
        for fix in &d.fix {
            crate::ui::println(&format!("    fix: {fix}"));
        }
        for n in &d.notes {
            crate::ui::println(&format!("    note: {}", escape(n)));
        }
        for l in &d.links {
            crate::ui::println(&format!("    see: {l}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_text_and_escapes_controls() {
        assert_eq!(
            escape("criu failed: type NOTIFY"),
            "criu failed: type NOTIFY"
        );
        assert_eq!(escape("ünïcode ✗"), "ünïcode ✗");
        assert_eq!(escape("\x1b[2J\r\x07"), "\\x1b[2J\\r\\x07");
        assert_eq!(
            escape("a\u{9b}b\u{2028}c\u{202e}"),
            "a\\u{9b}b\\u{2028}c\\u{202e}"
        );
        assert_eq!(escape("\x7f\t"), "\\x7f\\t");
    }
}

#[cfg(test)]
mod library_tests {
    use super::*;

    #[test]
    fn explain_text_reads_the_kept_log_beside_the_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/log/dockpoint")).unwrap();
        let log = "/var/log/dockpoint/criu-dump-x.log";
        std::fs::write(
            d.path().join(log.trim_start_matches('/')),
            "(00.034869) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.\n",
        )
        .unwrap();
        let host = Host::new(
            Some(d.path().to_path_buf()),
            Box::new(crate::runner::RecordingRunner::default()),
            crate::host::Term::plain(),
        )
        .unwrap();
        let text = "Error response from daemon: Cannot checkpoint container c: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0 path= /run/containerd/gone/criu-dump.log: unknown";
        let r = explain_text(&host, text, &[log.to_string()]);
        let ids: Vec<&str> = r.diagnoses.iter().map(|d| d.id).collect();
        assert!(ids.contains(&"tcp-established-missing"), "{ids:?}");
        let d0 = r
            .diagnoses
            .iter()
            .find(|d| d.id == "tcp-established-missing")
            .unwrap();
        assert_eq!(d0.source, log);
        assert!(r.logs_read.contains(&log.to_string()));
        assert!(
            r.logs_unreadable
                .iter()
                .any(|p| p.contains("/run/containerd/gone"))
        );
        // Without the kept log only the generic message is there.
        let r = explain_text(&host, text, &[]);
        assert!(
            r.diagnoses.iter().all(|d| d.source == "input"),
            "{:?}",
            r.diagnoses
        );
    }
}
