//! Required literals, derived from a pattern's syntax tree (regex-syntax):
//! a set of strings of which EVERY match of the pattern contains at least
//! one. The scanner's prefilter searches for these strings only, so the set
//! must be sound: a top-level `a|b` needs both `a` and `b` in the set, an
//! optional or repeated-from-zero piece contributes nothing, a class stands
//! for each of its bytes.
//!
//! Matching is ASCII-case-insensitive, so the literals are lowercased and
//! the prefilter runs on a lowercased copy of the input.

use regex_syntax::hir::{Class, Hir, HirKind};
use std::collections::BTreeSet;

/// A run's cross product stops growing beyond this many strings.
const MAX_SET: usize = 16;
/// A literal longer than this selects lines no better: past it, fewer
/// literals win (the SIMD searcher takes a limited number).
const ENOUGH: usize = 12;
/// A class of at most this many bytes is spelled out as alternatives.
const SMALL_CLASS: usize = 4;

#[derive(Clone, Debug, PartialEq)]
struct Req {
    /// Every match contains one of these ("" alone: no requirement).
    lits: BTreeSet<Vec<u8>>,
    /// The set is exactly the strings the piece matches.
    exact: bool,
}

impl Req {
    fn none() -> Req {
        Req {
            lits: [Vec::new()].into(),
            exact: false,
        }
    }

    fn exact(lits: impl IntoIterator<Item = Vec<u8>>) -> Req {
        Req {
            lits: lits.into_iter().collect(),
            exact: true,
        }
    }

    /// Literals that all hold a keyword first (the prefilter searches for
    /// the keyword: no literal of their own), then the longer shortest
    /// literal (up to ENOUGH), then fewer literals.
    fn score(&self) -> (bool, usize, std::cmp::Reverse<usize>) {
        let shortest = self.lits.iter().map(Vec::len).min().unwrap_or(0);
        let keyed = !self.lits.is_empty()
            && self
                .lits
                .iter()
                .all(|l| keyword(&l.to_ascii_lowercase()).is_some());
        (
            keyed,
            shortest.min(ENOUGH),
            std::cmp::Reverse(self.lits.len()),
        )
    }
}

fn class_bytes(c: &Class) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                for x in r.start()..=r.end() {
                    out.push(x);
                    if out.len() > SMALL_CLASS {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                for ch in r.start()..=r.end() {
                    if !ch.is_ascii() {
                        return None;
                    }
                    out.push(ch as u8);
                    if out.len() > SMALL_CLASS {
                        return None;
                    }
                }
            }
        }
    }
    Some(out)
}

fn req(h: &Hir) -> Req {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Req::exact([Vec::new()]),
        HirKind::Literal(l) => Req::exact([l.0.to_vec()]),
        HirKind::Class(c) => match class_bytes(c) {
            Some(bytes) => Req::exact(bytes.into_iter().map(|b| vec![b])),
            None => Req::none(),
        },
        HirKind::Repetition(r) => {
            if r.min == 0 {
                return Req::none();
            }
            let sub = req(&r.sub);
            if r.min == 1 && r.max == Some(1) {
                sub
            } else {
                // At least one copy is there, so one of its literals is.
                Req {
                    lits: sub.lits,
                    exact: false,
                }
            }
        }
        HirKind::Capture(c) => req(&c.sub),
        HirKind::Alternation(subs) => {
            let mut out = Req::exact([]);
            for s in subs {
                let r = req(s);
                out.exact &= r.exact;
                out.lits.extend(r.lits);
            }
            out
        }
        HirKind::Concat(subs) => {
            let mut best: Option<Req> = None;
            let consider = |c: Req, best: &mut Option<Req>| {
                if best.as_ref().is_none_or(|b| c.score() > b.score()) {
                    *best = Some(c);
                }
            };
            let mut run = Req::exact([Vec::new()]);
            let mut whole = true;
            for s in subs {
                let r = req(s);
                // A run long enough already is not multiplied into more strings.
                let long_enough = run.score().1 >= ENOUGH && r.lits.len() > 1;
                if r.exact && !long_enough && run.lits.len() * r.lits.len() <= MAX_SET {
                    let lits = run
                        .lits
                        .iter()
                        .flat_map(|a| {
                            r.lits.iter().map(move |b| {
                                let mut x = a.clone();
                                x.extend_from_slice(b);
                                x
                            })
                        })
                        .collect();
                    run = Req { lits, exact: true };
                    continue;
                }
                // The run of exact pieces ends here.
                whole = false;
                consider(
                    Req {
                        lits: std::mem::take(&mut run.lits),
                        exact: false,
                    },
                    &mut best,
                );
                if r.exact {
                    run = r;
                } else {
                    consider(r, &mut best);
                    run = Req::exact([Vec::new()]);
                }
            }
            if whole {
                return run;
            }
            consider(
                Req {
                    lits: run.lits,
                    exact: false,
                },
                &mut best,
            );
            best.unwrap_or_else(Req::none)
        }
    }
}

/// Parse a catalogue pattern the way the scanner compiles it (bytes, no
/// Unicode classes).
pub fn parse(pattern: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| format!("{pattern}: {e}"))
}

/// The lowercased strings of which every match of `pattern` contains one;
/// None when a match need contain nothing in particular.
pub fn required_literals(pattern: &str) -> Result<Option<Vec<Vec<u8>>>, String> {
    let r = req(&parse(pattern)?);
    let lits: BTreeSet<Vec<u8>> = r.lits.iter().map(|l| l.to_ascii_lowercase()).collect();
    if lits.is_empty() || lits.iter().any(Vec::is_empty) {
        return Ok(None);
    }
    Ok(Some(lits.into_iter().collect()))
}

/// The SIMD searcher (Teddy) takes at most this many literals.
pub const MAX_LITERALS: usize = 64;

/// Words that mark a line as worth matching in full: a required literal
/// holding one is searched for as that word alone. Fewer literals keep the
/// SIMD searcher's fingerprints selective (its false hits grow steeply with
/// the literals per bucket; up to 32 it runs twice as wide), and these words
/// are rare in ordinary docker, containerd and kernel logs outside the
/// failures explain knows (not `container`, `kernel`, `task`, `failed`).
pub const KEYWORDS: &[&str] = &[
    "checkpoint",
    "criu",
    "vdso",
    "seccomp",
    "experimental",
    "repair",
    "map_files",
    "socket",
    "supported",
    "doesn",
    "tables",
    "chain",
    "directives",
    "capabilities",
    "unable to",
    "mount ",
    "mount=",
    "rseq",
    "ghost",
    "inaccessible",
    "kernel ",
    "connection",
];

/// The keyword a literal holds, if any.
fn keyword(l: &[u8]) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|k| memchr::memmem::find(l, k.as_bytes()).is_some())
        .copied()
}

/// What the prefilter searches for one pattern: its required literals,
/// each replaced by the first of [`KEYWORDS`] it holds.
pub fn pattern_literals(pattern: &str) -> Result<Vec<Vec<u8>>, String> {
    match required_literals(pattern)? {
        Some(l) => Ok(l
            .iter()
            .map(|l| keyword(l).map_or_else(|| l.clone(), |k| k.as_bytes().to_vec()))
            .collect()),
        None => Err(format!("{pattern}: no required literal")),
    }
}

/// The prefilter's literals for a set of patterns: the union of their
/// required literals, each replaced by the first of [`KEYWORDS`] it holds,
/// without those that contain another (a line holding the longer one holds
/// the shorter too). Sound: a line holding a literal holds every part of it.
pub fn prefilter_literals<'a>(
    patterns: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Vec<u8>>, String> {
    let mut all = BTreeSet::new();
    for p in patterns {
        all.extend(pattern_literals(p)?);
    }
    let all: Vec<Vec<u8>> = all.into_iter().collect();
    let keep = all
        .iter()
        .filter(|l| {
            !all.iter()
                .any(|o| o != *l && memchr::memmem::find(l, o).is_some())
        })
        .cloned()
        .collect();
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Vec<String> {
        required_literals(p)
            .unwrap()
            .unwrap_or_default()
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn a_top_level_alternation_keeps_every_branch() {
        // The old hand-written scan returned the longer branch only, so a
        // line matching the other branch never reached the regex set.
        assert_eq!(
            lits("External socket is used|Can't dump half of stream"),
            ["can't dump half of stream", "external socket is used"]
        );
        assert_eq!(lits("ab(cd|ef)gh|xyz"), ["abcdgh", "abefgh", "xyz"]);
    }

    #[test]
    fn optional_and_repeated_pieces_are_not_required() {
        assert_eq!(
            lits(r"Can('|’)?t get [0-9]+:(16|34) opt"),
            [":16 opt", ":34 opt"]
        );
        assert_eq!(
            lits(r"docker (container )?start --checkpoint"),
            ["start --checkpoint"]
        );
        assert_eq!(lits(r"fd=-?[0-9]"), ["fd="]);
        assert_eq!(lits(r"x*"), Vec::<String>::new());
        assert_eq!(lits(r"(abc)+de"), ["abc"]);
    }

    #[test]
    fn groups_and_small_classes_multiply_out() {
        assert_eq!(lits(r"ab(cd|ef)gh"), ["abcdgh", "abefgh"]);
        // Long enough already: not multiplied into more literals.
        assert_eq!(
            lits(r"xyzzy failed: type (NOTIFY|DUMP)"),
            ["xyzzy failed: type "]
        );
        // A piece holding a keyword wins: the prefilter searches the keyword.
        assert_eq!(
            lits(r"CRIU version check failed: exec: [^ ]*criu[^ ]*: executable file not found"),
            ["criu version check failed: exec: "]
        );
        assert_eq!(lits(r"ip6?tables-restore"), ["tables-restore"]);
        assert_eq!(lits(r"[Ee]rror \(x"), ["error (x"]);
        assert_eq!(lits(r"execvp\(.?.?iptables-restore"), ["iptables-restore"]);
    }

    #[test]
    fn superstrings_are_dropped_from_the_prefilter() {
        let l = prefilter_literals(["foo bar", "bar", "baz|qux"]).unwrap();
        assert_eq!(l, [b"bar".to_vec(), b"baz".to_vec(), b"qux".to_vec()]);
        assert!(prefilter_literals(["a*"]).is_err());
    }
}
