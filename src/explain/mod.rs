//! `dockpoint explain`: any pasted docker / CRIU error, journal excerpt or
//! CRIU log in; each recognised failure out with its cause and fix.

pub mod catalogue;

use crate::cli::{ExplainArgs, Format};
use crate::host::Host;
use catalogue::{CATALOGUE, Confidence, Entry, GENERIC, LOG_PATH};
use regex::bytes::{Regex, RegexSet};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;

/// What a pattern in the scanner stands for.
#[derive(Clone, Copy)]
enum Owner {
    Entry(usize),
    Generic,
}

/// All the catalogue's patterns, compiled once. Like grep, a literal
/// prefilter finds candidate lines fast: every pattern's longest required
/// literal goes into one alternation of plain literals (which the regex crate
/// searches with SIMD); a regex set then says which patterns a candidate line
/// really matches.
pub struct Scanner {
    prefilter: Regex,
    set: RegexSet,
    owners: Vec<Owner>,
    log_path: Regex,
}

/// The longest run of text that every match of `pattern` contains: literal
/// characters outside groups, classes and optional quantifiers.
pub fn required_literal(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut best = String::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    let flush = |cur: &mut String, best: &mut String| {
        if cur.len() > best.len() {
            *best = cur.clone();
        }
        cur.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        let (lit, next) = match c {
            '\\' if i + 1 < chars.len() && !chars[i + 1].is_ascii_alphanumeric() => {
                (Some(chars[i + 1]), i + 2)
            }
            '\\' => (None, i + 2),
            '(' => {
                depth += 1;
                (None, i + 1)
            }
            ')' => {
                depth = depth.saturating_sub(1);
                (None, i + 1)
            }
            '[' => {
                let mut j = i + 1;
                if j < chars.len() && chars[j] == '^' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                (None, j + 1)
            }
            '.' | '|' | '^' | '$' | '*' | '+' | '?' | '{' | '}' => (None, i + 1),
            c => (Some(c), i + 1),
        };
        // A character made optional or repeated by what follows is not required.
        let quantified = matches!(chars.get(next), Some('?' | '*' | '{'));
        match lit {
            Some(l) if depth == 0 && !quantified => cur.push(l),
            _ => flush(&mut cur, &mut best),
        }
        i = next;
    }
    flush(&mut cur, &mut best);
    (best.len() >= 4).then_some(best)
}

impl Scanner {
    pub fn new() -> Self {
        let mut pats: Vec<&str> = Vec::new();
        let mut owners = Vec::new();
        for (i, e) in CATALOGUE.iter().enumerate() {
            for p in e.patterns {
                pats.push(p);
                owners.push(Owner::Entry(i));
            }
        }
        pats.push(GENERIC);
        owners.push(Owner::Generic);
        // Logs are named on error lines only: the path is looked for on
        // lines that matched something else, never on every `path=`.
        let mut lits: Vec<String> = pats
            .iter()
            .map(|p| required_literal(p).expect("every catalogue pattern has a required literal"))
            .collect();
        lits.sort();
        lits.dedup();
        // A literal that contains another adds nothing: fewer literals keep
        // the SIMD searcher in play (it takes up to 64).
        let all = lits.clone();
        lits.retain(|l| !all.iter().any(|o| o != l && l.contains(o.as_str())));
        let alternation = lits
            .iter()
            .map(|l| regex::escape(l))
            .collect::<Vec<_>>()
            .join("|");
        let prefilter = regex::bytes::RegexBuilder::new(&alternation)
            .unicode(false)
            .build()
            .expect("literals compile");
        // Byte-oriented (no Unicode classes): the automaton stays small and fast.
        let set = regex::bytes::RegexSetBuilder::new(&pats)
            .unicode(false)
            .build()
            .expect("catalogue patterns compile");
        Scanner {
            prefilter,
            set,
            owners,
            log_path: regex::bytes::RegexBuilder::new(LOG_PATH)
                .unicode(false)
                .build()
                .expect("compiles"),
        }
    }

    /// Every pattern, for tools that want to compare (`--print-patterns`).
    pub fn patterns() -> Vec<&'static str> {
        CATALOGUE
            .iter()
            .flat_map(|e| e.patterns.iter().copied())
            .chain([GENERIC])
            .collect()
    }

    /// Scan complete lines in `buf`, recording hits in `f`.
    fn scan(&self, buf: &[u8], source: &str, f: &mut Findings) {
        let mut pos = 0;
        while let Some(m) = self.prefilter.find_at(buf, pos) {
            let start = memchr::memrchr(b'\n', &buf[..m.start()]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &buf[m.end()..]).map_or(buf.len(), |i| m.end() + i);
            let line = &buf[start..end];
            for idx in self.set.matches(line).iter() {
                match self.owners[idx] {
                    Owner::Entry(e) => f.hit(e, line, source),
                    Owner::Generic => {
                        if f.generic.is_none() {
                            f.generic = Some(clean(line));
                        }
                    }
                }
            }
            for c in self.log_path.captures_iter(line) {
                if let Some(p) = c.get(2) {
                    let p = String::from_utf8_lossy(p.as_bytes()).into_owned();
                    if !f.log_paths.contains(&p) {
                        f.log_paths.push(p);
                    }
                }
            }
            pos = end + 1;
            if pos >= buf.len() {
                break;
            }
        }
    }

    /// Scan a stream in chunks, never holding more than a chunk (a longer
    /// line grows the buffer).
    pub fn scan_reader(
        &self,
        r: &mut dyn Read,
        source: &str,
        f: &mut Findings,
    ) -> std::io::Result<u64> {
        const CHUNK: usize = 4 << 20;
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0usize;
        let mut total = 0u64;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = loop {
                match r.read(&mut buf[filled..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            total += n as u64;
            if n == 0 {
                self.scan(&buf[..filled], source, f);
                return Ok(total);
            }
            let seen = filled;
            filled += n;
            if let Some(nl) = memchr::memrchr(b'\n', &buf[seen..filled]) {
                let nl = seen + nl;
                self.scan(&buf[..nl], source, f);
                buf.copy_within(nl + 1..filled, 0);
                filled -= nl + 1;
            }
        }
    }
}

impl Scanner {
    /// Scan a file: mapped when it is a regular file (no copy through
    /// read()), streamed otherwise (pipes, /dev/stdin, special files).
    pub fn scan_file(
        &self,
        file: &mut std::fs::File,
        source: &str,
        f: &mut Findings,
    ) -> std::io::Result<u64> {
        let meta = file.metadata()?;
        if meta.is_file() && meta.len() > 0 {
            // SAFETY: the map is read-only and dropped before we return; a log
            // truncated while it is read could fault, which is why only regular
            // files are mapped and a failed map falls back to reading.
            if let Ok(map) = unsafe { memmap2::MmapOptions::new().populate().map(&*file) } {
                let _ = map.advise(memmap2::Advice::Sequential);
                self.scan(&map, source, f);
                return Ok(map.len() as u64);
            }
        }
        self.scan_reader(file, source, f)
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

/// A line as it is shown: journald's escaped quotes undone, trimmed, bounded.
fn clean(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line).replace("\\\"", "\"");
    let s = s.trim();
    if s.len() > 600 {
        let mut cut = 600;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    } else {
        s.to_string()
    }
}

/// What a scan found.
#[derive(Default)]
pub struct Findings {
    /// entry index -> (first matched line, its source, count)
    hits: BTreeMap<usize, (String, String, usize, usize)>,
    order: usize,
    pub generic: Option<String>,
    pub log_paths: Vec<String>,
}

impl Findings {
    fn hit(&mut self, entry: usize, line: &[u8], source: &str) {
        self.order += 1;
        let order = self.order;
        self.hits
            .entry(entry)
            .and_modify(|h| h.2 += 1)
            .or_insert_with(|| (clean(line), source.to_string(), 1, order));
    }
}

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

#[derive(Serialize)]
pub struct Report {
    pub format_version: u32,
    pub diagnoses: Vec<Diagnosis>,
    pub logs_read: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs_unreadable: Vec<String>,
}

/// Turn findings into diagnoses: specific ones first; the generic message
/// leads with tcp-established-missing only when nothing specific was found,
/// checked against this host's runc.conf.
pub fn diagnose(
    host: &Host,
    f: Findings,
    logs_read: Vec<String>,
    unreadable: Vec<String>,
) -> Report {
    let mut hits: Vec<_> = f.hits.into_iter().collect();
    hits.sort_by_key(|(_, h)| h.3);
    let mut out: Vec<Diagnosis> = hits
        .into_iter()
        .map(|(i, (line, src, count, _))| Diagnosis::from_entry(&CATALOGUE[i], line, src, count))
        .collect();
    if let Some(generic) = f.generic {
        let specific = out.iter().any(|d| d.confidence >= Confidence::Likely);
        if specific {
            if let Some(d) = out.first_mut() {
                d.notes.push(format!(
                    "docker's `{}` is generic; the cause came from {}",
                    GENERIC_SHOWN, d.source
                ));
            }
        } else {
            let e = CATALOGUE
                .iter()
                .find(|e| e.id == "tcp-established-missing")
                .expect("in the catalogue");
            let mut d = Diagnosis::from_entry(e, generic, "input".into(), 1);
            d.notes.push(format!(
                "this message is generic: every CRIU failure reads `{GENERIC_SHOWN}`; the seed documents it as a missing tcp-established, but the cause is in the CRIU log it names after `path=`"
            ));
            match host
                .fs
                .read_text("/etc/criu/runc.conf")
                .ok()
                .flatten()
                .ok_or(())
            {
                Ok(text) => match crate::runc_conf::effective(&text, "tcp-established") {
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
                Err(_) => {
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
    }
}

const GENERIC_SHOWN: &str = "criu failed: type NOTIFY errno 0";

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
            crate::ui::error(&format!("--root: {e:#}"));
            return crate::host::root_error_exit(&e).code();
        }
    };
    if args.print_patterns {
        for p in Scanner::patterns() {
            println!("{p}");
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
        scanner.scan(joined.as_bytes(), "input", &mut f);
    }
    for path in &args.file {
        any_input = true;
        match std::fs::File::open(path) {
            Ok(mut file) => {
                if let Err(e) = scanner.scan_file(&mut file, &path.display().to_string(), &mut f) {
                    crate::ui::error(&format!("cannot read {}: {e}", path.display()));
                    return 2;
                }
            }
            Err(e) => {
                crate::ui::error(&format!("cannot open {}: {e}", path.display()));
                return 2;
            }
        }
    }
    let want_stdin =
        args.text.iter().any(|t| t == "-") || (!any_input && !std::io::stdin().is_terminal());
    if want_stdin {
        any_input = true;
        if let Err(e) = scanner.scan_reader(&mut std::io::stdin().lock(), "input", &mut f) {
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
    // Follow the CRIU logs the text names.
    let mut read = Vec::new();
    let mut unreadable = Vec::new();
    let paths = f.log_paths.clone();
    for p in paths {
        match host.fs.open_file(&p).ok().flatten().ok_or(()) {
            Ok(mut file) => {
                if scanner.scan_file(&mut file, &p, &mut f).is_ok() {
                    read.push(p);
                }
            }
            Err(_) => unreadable.push(p),
        }
    }
    let report = diagnose(&host, f, read, unreadable);
    print(&report, args.format);
    if report.diagnoses.is_empty() { 1 } else { 0 }
}

fn print(r: &Report, format: Format) {
    use console::style;
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(r).expect("serialises"));
        return;
    }
    for p in &r.logs_read {
        println!("read the CRIU log {p}");
    }
    if r.diagnoses.is_empty() {
        println!("{} nothing recognised.", style("?").yellow());
        println!(
            "    Send the CRIU log: the file after `path=` in docker's error (.../criu-dump.log or restore.log),"
        );
        println!(
            "    or run: dockpoint explain --file /run/containerd/io.containerd.runtime.v2.task/moby/<id>/criu-dump.log"
        );
        for p in &r.logs_unreadable {
            println!("    (named but not readable here: {p})");
        }
        return;
    }
    for d in &r.diagnoses {
        let conf = serde_json::to_value(d.confidence)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "{} {}: {} [{conf}]",
            style("✗").red(),
            style(d.id).bold(),
            d.title
        );
        let times = if d.count > 1 {
            format!(" ({} times)", d.count)
        } else {
            String::new()
        };
        println!("    matched{times}: {}", d.matched);
        if d.source != "input" {
            println!("    in: {}", d.source);
        }
        println!("    cause: {}", d.cause);
        for fix in &d.fix {
            println!("    fix: {fix}");
        }
        for n in &d.notes {
            println!("    note: {n}");
        }
        for l in &d.links {
            println!("    see: {l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_literals() {
        assert_eq!(
            required_literal(r"criu failed: type (NOTIFY|DUMP|RESTORE) errno 0").as_deref(),
            Some("criu failed: type ")
        );
        assert_eq!(
            required_literal(r"Can't get [0-9]+:(16|34) opt").as_deref(),
            Some("Can't get ")
        );
        assert_eq!(
            required_literal(r"execvp\(.?.?iptables-restore").as_deref(),
            Some("iptables-restore")
        );
        assert_eq!(
            required_literal(r"docker (container )?start --checkpoint").as_deref(),
            Some("start --checkpoint")
        );
        assert_eq!(required_literal(r"fd=-?[0-9]").as_deref(), None);
        for p in Scanner::patterns() {
            let lit = required_literal(p).unwrap_or_else(|| panic!("{p} has no required literal"));
            assert!(
                lit.len() >= 6,
                "{p}: `{lit}` is too short to prefilter well"
            );
        }
    }
}
