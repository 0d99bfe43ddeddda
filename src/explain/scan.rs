//! The streaming scanner: a literal prefilter finds candidate lines, a regex
//! set says which patterns they match. Memory is bounded whatever the input
//! (a fixed buffer; a line longer than it is matched in overlapping pieces),
//! and time is linear in the input and in the log paths it names.

use super::catalogue::{CATALOGUE, GENERIC, LOG_PATH};
use super::literals;
use regex::bytes::{Regex, RegexBuilder};
use regex_automata::meta;
use std::collections::{BTreeMap, HashSet};
use std::io::Read;

/// Bytes of input held at once. A longer line is matched in pieces of
/// this size that overlap by [`OVERLAP`].
pub const BUFFER: usize = 4 << 20;
/// How much of a long line's piece is matched again with the next piece, so
/// that a message across the cut is still found.
pub const OVERLAP: usize = 64 << 10;
/// How many distinct CRIU logs named in the input are followed.
pub const MAX_LOGS: usize = 32;
/// The longest matched line shown (bytes), before `...`.
const SHOWN: usize = 600;

/// What a pattern in the scanner stands for.
#[derive(Clone, Copy)]
enum Owner {
    Entry { index: usize, strong: bool },
    Generic,
}

/// The literal searcher: Teddy (SIMD) for at most 64 literals, an
/// Aho-Corasick automaton otherwise, searched on its own (the regex crate
/// would confirm each hit with a DFA again).
struct Prefilter(regex_automata::util::prefilter::Prefilter);

impl Prefilter {
    fn new(lits: &[Vec<u8>]) -> Prefilter {
        Prefilter(
            regex_automata::util::prefilter::Prefilter::new(
                regex_automata::MatchKind::LeftmostFirst,
                lits,
            )
            .expect("a literal searcher for non-empty literals"),
        )
    }

    /// The first literal found at or after `pos`: (start, end).
    fn find_at(&self, hay: &[u8], pos: usize) -> Option<(usize, usize)> {
        self.0
            .find(hay, regex_automata::Span::from(pos..hay.len()))
            .map(|s| (s.start, s.end))
    }
}

/// All the catalogue's patterns, compiled once. Like grep, a literal
/// prefilter finds candidate lines fast: the required literals of every
/// pattern (derived from its syntax, lowercased) are searched for in a
/// lowercased copy of the input; a regex set, ASCII-case-insensitive, then
/// says which patterns a candidate line really matches.
pub struct Scanner {
    prefilter: Prefilter,
    set: meta::Regex,
    owners: Vec<Owner>,
    patterns: Vec<&'static str>,
    log_path: Regex,
}

/// Every pattern: strong and weak ones of every entry, then the generic one
/// (`--print-patterns`, for comparisons with `grep -i -E`).
pub fn patterns() -> Vec<&'static str> {
    owned_patterns().into_iter().map(|(p, _)| p).collect()
}

fn owned_patterns() -> Vec<(&'static str, Owner)> {
    let mut v = Vec::new();
    for (index, e) in CATALOGUE.iter().enumerate() {
        for p in e.patterns {
            v.push((
                *p,
                Owner::Entry {
                    index,
                    strong: true,
                },
            ));
        }
        for p in e.weak {
            v.push((
                *p,
                Owner::Entry {
                    index,
                    strong: false,
                },
            ));
        }
    }
    v.push((GENERIC, Owner::Generic));
    v
}

fn insensitive(p: &str) -> Regex {
    RegexBuilder::new(p)
        .case_insensitive(true)
        .unicode(false)
        .build()
        .expect("catalogue patterns compile")
}

impl Scanner {
    pub fn new() -> Self {
        let owned = owned_patterns();
        let patterns: Vec<&'static str> = owned.iter().map(|(p, _)| *p).collect();
        let owners = owned.iter().map(|(_, o)| *o).collect();
        let lits = literals::prefilter_literals(patterns.iter().copied())
            .expect("every catalogue pattern has required literals");
        let prefilter = Prefilter::new(&lits);
        // Byte-oriented (no Unicode classes), without a prefilter of its own
        // (it only ever sees candidate lines) and without captures: it
        // compiles in a fifth of the regex crate's RegexSet time.
        let set = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .auto_prefilter(false)
                    .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
                    .match_kind(regex_automata::MatchKind::All),
            )
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .case_insensitive(true)
                    .unicode(false)
                    .utf8(false),
            )
            .build_many(&patterns)
            .expect("catalogue patterns compile");
        Scanner {
            prefilter,
            set,
            owners,
            patterns,
            log_path: RegexBuilder::new(LOG_PATH)
                .unicode(false)
                .build()
                .expect("compiles"),
        }
    }

    /// Whether the prefilter lets `text` through (tests: it must for every
    /// text a pattern matches).
    pub fn prefilter_passes(&self, text: &[u8]) -> bool {
        self.prefilter
            .find_at(&text.to_ascii_lowercase(), 0)
            .is_some()
    }

    /// Whether any pattern matches `text`.
    pub fn any_pattern_matches(&self, text: &[u8]) -> bool {
        self.set.is_match(text)
    }

    /// The patterns a line matches (indexes into [`patterns`]).
    fn matches(&self, line: &[u8]) -> regex_automata::PatternSet {
        let mut set = regex_automata::PatternSet::new(self.set.pattern_len());
        self.set
            .which_overlapping_matches(&regex_automata::Input::new(line), &mut set);
        set
    }

    /// Scan complete lines in `buf` (at most [`BUFFER`] bytes from the
    /// readers), recording hits in `f`.
    pub fn scan(&self, buf: &[u8], source: &str, f: &mut Findings) {
        let mut scratch = std::mem::take(&mut f.lower);
        if scratch.len() < buf.len() {
            scratch.resize(buf.len(), 0);
        }
        let lower = &mut scratch[..buf.len()];
        // ASCII lowercase, written so that it compiles to SIMD.
        for (d, s) in lower.iter_mut().zip(buf) {
            *d = s | (((s.wrapping_sub(b'A') < 26) as u8) << 5);
        }
        let lower = &*lower;
        let mut pos = 0;
        while let Some((m_start, m_end)) = self.prefilter.find_at(lower, pos) {
            let start = memchr::memrchr(b'\n', &buf[pos..m_start]).map_or(pos, |i| pos + i + 1);
            let end = memchr::memchr(b'\n', &buf[m_end..]).map_or(buf.len(), |i| m_end + i);
            self.line(&buf[start..end], source, f);
            pos = end + 1;
            if pos >= buf.len() {
                break;
            }
        }
        f.lower = scratch;
    }

    fn line(&self, line: &[u8], source: &str, f: &mut Findings) {
        // (entry, strong, a pattern that matched) for each entry the line matches.
        let mut found: Vec<(usize, bool, usize)> = Vec::new();
        for idx in self.matches(line).iter() {
            let idx = idx.as_usize();
            match self.owners[idx] {
                Owner::Entry { index, strong } => {
                    match found.iter_mut().find(|(i, _, _)| *i == index) {
                        Some(x) if strong && !x.1 => *x = (index, true, idx),
                        Some(_) => {}
                        None => found.push((index, strong, idx)),
                    }
                }
                Owner::Generic => {
                    if f.generic.is_none() {
                        f.generic = Some(clean(line));
                    }
                }
            }
        }
        // A more specific reading of the same line wins.
        let superseded: Vec<&str> = found
            .iter()
            .flat_map(|(i, _, _)| CATALOGUE[*i].supersedes.iter().copied())
            .collect();
        found.retain(|(i, _, _)| !superseded.contains(&CATALOGUE[*i].id));
        for (index, strong, idx) in found {
            let shown = f
                .wants(index, strong)
                .then(|| self.shown(line, self.patterns[idx]));
            f.hit(index, strong, shown, source);
        }
        if f.collect_logs {
            for c in self.log_path.captures_iter(line) {
                if let Some(p) = c.get(2) {
                    f.log_named(&String::from_utf8_lossy(p.as_bytes()));
                }
            }
        }
    }

    /// The line as shown: whole when short, else the part around the match.
    fn shown(&self, line: &[u8], pattern: &str) -> String {
        if line.len() <= SHOWN {
            return clean(line);
        }
        let (s, e) = insensitive(pattern)
            .find(line)
            .map_or((0, 0), |m| (m.start(), m.end()));
        let from = s.saturating_sub(SHOWN / 3);
        let to = line.len().min(e.max(from + SHOWN));
        let mut out = String::new();
        if from > 0 {
            out.push_str("...");
        }
        out.push_str(&clean(&line[from..to]));
        if to < line.len() {
            out.push_str("...");
        }
        out
    }

    /// Scan a stream (a regular file, a pipe) in a buffer of [`BUFFER`]
    /// bytes that never grows: a line longer than that is matched in
    /// overlapping pieces.
    pub fn scan_reader(
        &self,
        r: &mut dyn Read,
        source: &str,
        f: &mut Findings,
    ) -> std::io::Result<u64> {
        let mut buf = vec![0u8; BUFFER];
        let mut filled = 0usize;
        let mut total = 0u64;
        let mut in_long_line = false;
        loop {
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
                in_long_line = false;
            } else if filled == buf.len() {
                if !in_long_line {
                    f.long_lines += 1;
                    in_long_line = true;
                }
                self.scan(&buf[..filled], source, f);
                buf.copy_within(filled - OVERLAP..filled, 0);
                filled = OVERLAP;
            }
        }
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

/// A line as it is shown: journald's escaped quotes undone, trimmed, bounded.
fn clean(line: &[u8]) -> String {
    let line = &line[..line.len().min(SHOWN * 4)];
    let s = String::from_utf8_lossy(line).replace("\\\"", "\"");
    let s = s.trim();
    if s.len() > SHOWN {
        let mut cut = SHOWN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    } else {
        s.to_string()
    }
}

/// Where a line that matched was seen first.
#[derive(Clone)]
pub(crate) struct Seen {
    pub line: String,
    pub source: String,
    pub order: usize,
}

/// An entry's hits: the first line of its strong patterns and of its weak
/// ones, and how many lines matched.
#[derive(Default)]
pub(crate) struct Hit {
    pub strong: Option<Seen>,
    pub weak: Option<Seen>,
    pub count: usize,
}

/// What a scan found.
pub struct Findings {
    pub(crate) hits: BTreeMap<usize, Hit>,
    order: usize,
    pub generic: Option<String>,
    /// The CRIU logs named, in order, at most [`MAX_LOGS`] distinct ones.
    log_paths: Vec<String>,
    log_seen: HashSet<String>,
    /// Log paths named beyond [`MAX_LOGS`] (mentions, not followed).
    pub logs_not_followed: u64,
    /// Whether log paths are still collected (not while logs are read).
    pub collect_logs: bool,
    /// Lines longer than [`BUFFER`], matched in pieces.
    pub long_lines: u64,
    lower: Vec<u8>,
}

impl Default for Findings {
    fn default() -> Self {
        Findings {
            hits: BTreeMap::new(),
            order: 0,
            generic: None,
            log_paths: Vec::new(),
            log_seen: HashSet::new(),
            logs_not_followed: 0,
            collect_logs: true,
            long_lines: 0,
            lower: Vec::new(),
        }
    }
}

impl Findings {
    fn wants(&self, entry: usize, strong: bool) -> bool {
        self.hits.get(&entry).is_none_or(|h| {
            if strong {
                h.strong.is_none()
            } else {
                h.weak.is_none()
            }
        })
    }

    fn hit(&mut self, entry: usize, strong: bool, shown: Option<String>, source: &str) {
        self.order += 1;
        let order = self.order;
        let h = self.hits.entry(entry).or_default();
        h.count += 1;
        if let Some(line) = shown {
            let seen = Some(Seen {
                line,
                source: source.to_string(),
                order,
            });
            if strong {
                h.strong = seen;
            } else {
                h.weak = seen;
            }
        }
    }

    /// A CRIU log named in the input: kept once, up to [`MAX_LOGS`].
    fn log_named(&mut self, path: &str) {
        if self.log_seen.contains(path) {
            return;
        }
        if self.log_paths.len() < MAX_LOGS {
            self.log_seen.insert(path.to_string());
            self.log_paths.push(path.to_string());
        } else {
            self.logs_not_followed += 1;
        }
    }

    /// The logs to follow; no more are collected after this.
    pub fn take_log_paths(&mut self) -> Vec<String> {
        self.collect_logs = false;
        std::mem::take(&mut self.log_paths)
    }

    /// The ids found so far (tests).
    pub fn ids(&self) -> Vec<&'static str> {
        self.hits.keys().map(|i| CATALOGUE[*i].id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scanner() -> &'static Scanner {
        static S: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
        S.get_or_init(Scanner::new)
    }

    /// Variants a user might paste or type.
    fn variants(s: &str) -> Vec<String> {
        let alternate: String = s
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        vec![
            s.to_string(),
            s.to_ascii_lowercase(),
            s.to_ascii_uppercase(),
            alternate,
            // Apostrophes dropped (the doctor's quoting) and curled (chat tools).
            s.replace('\'', ""),
            s.replace('\'', "’"),
        ]
    }

    #[test]
    fn every_pattern_has_a_sample_and_every_sample_its_entry() {
        for e in CATALOGUE {
            assert!(!e.samples.is_empty(), "{}: no samples", e.id);
            for p in e.patterns.iter().chain(e.weak) {
                let re = insensitive(p);
                assert!(
                    e.samples.iter().any(|s| re.is_match(s.as_bytes())),
                    "{}: `{p}` matches none of its samples",
                    e.id
                );
            }
            for s in e.samples {
                let mut f = Findings::default();
                scanner().scan(s.as_bytes(), "input", &mut f);
                assert!(f.ids().contains(&e.id), "{}: {s} gave {:?}", e.id, f.ids());
            }
        }
    }

    /// Whether `text` holds one of the literals the prefilter searches for
    /// `pattern` (not merely another pattern's: every pattern must be
    /// covered on its own).
    fn holds_own_literal(pattern: &str, text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        literals::pattern_literals(pattern)
            .unwrap()
            .iter()
            .any(|l| memchr::memmem::find(lower.as_bytes(), l).is_some())
    }

    #[test]
    fn the_prefilter_passes_every_line_a_pattern_matches() {
        let s = scanner();
        for e in CATALOGUE {
            for sample in e.samples {
                for v in variants(sample) {
                    assert!(s.any_pattern_matches(v.as_bytes()), "{}: {v}", e.id);
                    assert!(
                        s.prefilter_passes(v.as_bytes()),
                        "{}: prefilter drops {v}",
                        e.id
                    );
                    for p in e.patterns.iter().chain(e.weak) {
                        if insensitive(p).is_match(v.as_bytes()) {
                            assert!(holds_own_literal(p, &v), "{p}: its literals miss {v}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_prefilter_stays_a_simd_searcher() {
        // Teddy takes at most 64 literals; past that a byte-at-a-time
        // automaton runs, slower than grep on the bench.
        let lits = literals::prefilter_literals(patterns()).unwrap();
        assert!(
            lits.len() <= literals::MAX_LITERALS,
            "{} literals",
            lits.len()
        );
        if cfg!(target_arch = "x86_64") && std::is_x86_feature_detected!("ssse3") {
            assert!(scanner().prefilter.0.is_fast(), "not a SIMD searcher");
        }
    }

    #[test]
    fn patterns_stay_in_the_subset_grep_reads_alike() {
        for p in patterns() {
            assert!(p.is_ascii() || p.contains('’'), "{p}");
            for bad in ["(?", "\\d", "\\w", "\\s", "\\b", "*?", "+?", "??"] {
                assert!(!p.contains(bad), "{p} uses {bad}");
            }
            let lits = literals::required_literals(p).unwrap().unwrap();
            assert!(
                lits.iter().all(|l| l.len() >= 5),
                "{p}: {:?} too short to prefilter well",
                lits.iter()
                    .map(|l| String::from_utf8_lossy(l))
                    .collect::<Vec<_>>()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            // No regression files outside src/explain.
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// Strings generated from each pattern (then case-mangled) match it
        /// and pass the prefilter.
        #[test]
        fn generated_matches_pass_the_prefilter(seed in any::<u64>(), upper in any::<bool>()) {
            use proptest::strategy::ValueTree;
            use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
            let mut runner = TestRunner::new_with_rng(
                Config::default(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &{
                    let mut b = [0u8; 32];
                    b[..8].copy_from_slice(&seed.to_le_bytes());
                    b
                }),
            );
            for p in patterns() {
                // The generator takes no anchors: a line-end `$` is where the text ends.
                let strategy = proptest::string::string_regex(p.trim_end_matches('$')).unwrap();
                let text = strategy.new_tree(&mut runner).unwrap().current();
                let text = if upper { text.to_uppercase() } else { text.to_lowercase() };
                let re = insensitive(p);
                if re.is_match(text.as_bytes()) {
                    prop_assert!(scanner().prefilter_passes(text.as_bytes()), "{p}: {text:?}");
                    prop_assert!(holds_own_literal(p, &text), "{p}: its literals miss {text:?}");
                }
            }
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_matched_in_bounded_pieces() {
        /// 64 MiB without a newline, a message inside and across a cut;
        /// records the largest read it was asked for.
        struct Long {
            left: usize,
            at: Vec<(usize, &'static [u8])>,
            largest_read: usize,
        }
        impl Read for Long {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.largest_read = self.largest_read.max(buf.len());
                let n = buf.len().min(self.left).min(1 << 20);
                let pos = (64 << 20) - self.left;
                buf[..n].fill(b'x');
                for (at, msg) in &self.at {
                    for (k, b) in msg.iter().enumerate() {
                        if (pos..pos + n).contains(&(at + k)) {
                            buf[at + k - pos] = *b;
                        }
                    }
                }
                self.left -= n;
                Ok(n)
            }
        }
        let mut r = Long {
            left: 64 << 20,
            at: vec![
                (40 << 20, b" custom checkpointdir is not supported "),
                // Across the first cut of the buffer.
                (BUFFER - 10, b" External socket is used "),
            ],
            largest_read: 0,
        };
        let mut f = Findings::default();
        let n = scanner().scan_reader(&mut r, "input", &mut f).unwrap();
        assert_eq!(n, 64 << 20);
        assert!(r.largest_read <= BUFFER, "{}", r.largest_read);
        assert_eq!(f.long_lines, 1);
        let ids = f.ids();
        assert!(ids.contains(&"restore-custom-dir"), "{ids:?}");
        assert!(ids.contains(&"external-unix-socket"), "{ids:?}");
        // The line shown is the part around the match, bounded.
        let h = &f.hits[&CATALOGUE
            .iter()
            .position(|e| e.id == "restore-custom-dir")
            .unwrap()];
        let line = &h.strong.as_ref().unwrap().line;
        assert!(
            line.len() < 2 * SHOWN && line.contains("checkpointdir"),
            "{line}"
        );
    }

    #[test]
    fn log_paths_are_kept_once_and_capped() {
        let mut f = Findings::default();
        for i in 0..10_000 {
            f.log_named(&format!("/run/x/{}/criu-dump.log", i % 100));
        }
        assert_eq!(f.log_paths.len(), MAX_LOGS);
        // 68 paths beyond the first 32, named 100 times each.
        assert_eq!(f.logs_not_followed, 6_800);
        let mut f = Findings::default();
        f.log_named("/a.log");
        f.log_named("/a.log");
        assert_eq!(f.take_log_paths(), ["/a.log"]);
        assert!(!f.collect_logs);
    }
}
