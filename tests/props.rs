//! Property tests of the pure editors. The generators aim at the hard paths:
//! duplicate "experimental" keys (first, middle, last), every JSON type as
//! its value, the --experimental flag, `repair`, CRLF/mixed line endings, a
//! BOM and nested objects; for runc.conf every option kind and generated
//! `--criu-option` strings. The properties: no panic; on success the output
//! is what dockerd/CRIU would read as intended, applying twice equals applying
//! once, everything else is unchanged and the change is minimal; on error the
//! cause is said and points at a line of the input.

use dockpoint::daemon_json::{self, DaemonInputs};
use dockpoint::runc_conf::{self, CRIU_OPTIONS, CriuOption};
use proptest::prelude::*;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

const EXP: &str = "experimental";

// ---------------------------------------------------------------- helpers

/// An error must say why and point at a line (and column) of `text`.
fn check_error_location(
    text: &str,
    line: usize,
    column: Option<usize>,
    cause: &str,
) -> Result<(), TestCaseError> {
    prop_assert!(!cause.trim().is_empty(), "empty cause");
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').collect();
    // The empty "line" after a final newline does not count, unless it is all there is.
    let count = if lines.len() > 1 && lines.last() == Some(&"") {
        lines.len() - 1
    } else {
        lines.len()
    };
    prop_assert!(
        (1..=count).contains(&line),
        "line {line} of {count} in {text:?}: {cause}"
    );
    if let Some(c) = column {
        let width = lines[line - 1].trim_end_matches('\r').chars().count();
        prop_assert!(
            (1..=width + 1).contains(&c),
            "column {c} of line {line} ({width} chars) in {text:?}: {cause}"
        );
    }
    Ok(())
}

/// The top-level members of a JSON object in order, duplicates kept, parsed
/// strictly (serde_json: no comments, no trailing commas).
#[derive(Debug, PartialEq)]
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    v.push(kv);
                }
                Ok(Members(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn strict_members(text: &str) -> Result<Members, String> {
    serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
        .map_err(|e| format!("{e}: {text:?}"))
}

fn non_ws(s: &str) -> usize {
    s.chars().filter(|c| !c.is_ascii_whitespace()).count()
}

/// Whether `small` is `big` with some characters deleted.
fn is_subsequence(small: &str, big: &str) -> bool {
    let mut it = big.chars();
    small.chars().all(|c| it.any(|b| b == c))
}

/// What was taken out of `old` and put into `new` at the one place they differ.
fn diff<'a>(old: &'a str, new: &'a str) -> (&'a str, &'a str) {
    let p = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map_or(old.len().min(new.len()), |((i, _), _)| i);
    let max_s = old.len().min(new.len()) - p;
    let s = old[p..]
        .chars()
        .rev()
        .zip(new[p..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .scan(0, |acc, n| {
            *acc += n;
            Some(*acc)
        })
        .take_while(|&n| n <= max_s)
        .last()
        .unwrap_or(0);
    (&old[p..old.len() - s], &new[p..new.len() - s])
}

// ------------------------------------------------------- daemon.json model

#[derive(Debug, Clone)]
enum Key {
    Exp,
    /// `"experimenta\u006c"`: the same key to dockerd.
    ExpEscaped,
    Other(String),
}

impl Key {
    fn is_exp(&self) -> bool {
        !matches!(self, Key::Other(_))
    }
    fn json(&self) -> String {
        match self {
            Key::Exp => format!("\"{EXP}\""),
            Key::ExpEscaped => "\"experimenta\\u006c\"".into(),
            Key::Other(k) => serde_json::to_string(k).unwrap(),
        }
    }
    fn name(&self) -> String {
        match self {
            Key::Other(k) => k.clone(),
            _ => EXP.into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Style {
    /// `{"a":1,"b":2}`
    Compact,
    /// `{"a": 1, "b": 2}`
    Spaced,
    /// One member per line, nested values pretty too.
    Pretty,
    /// One member per line, the comma leading the next one.
    CommaFirst,
}

#[derive(Debug, Clone)]
struct Doc {
    members: Vec<(Key, Value)>,
    style: Style,
    /// One entry per line break: CRLF or LF (all LF, all CRLF, or mixed).
    crlf: Vec<bool>,
    bom: bool,
    final_nl: bool,
}

/// Byte ranges of one member in the rendered text.
#[derive(Debug, Clone, Copy)]
struct Span {
    value: (usize, usize),
    /// From the key's opening quote to the value's end.
    member: (usize, usize),
}

/// The text of `doc` and where each member is.
fn render(doc: &Doc) -> (String, Vec<Span>) {
    let mut t = String::new();
    let mut ranges = Vec::new();
    let (open, sep, colon, close, indent) = match doc.style {
        Style::Compact => ("{", ",", ":", "}", ""),
        Style::Spaced => ("{", ", ", ": ", "}", ""),
        Style::Pretty => ("{\n", ",\n", ": ", "\n}", "  "),
        Style::CommaFirst => ("{ ", "\n, ", ": ", "\n}", ""),
    };
    t.push_str(match (doc.members.is_empty(), doc.style) {
        (true, Style::Compact) => "{",
        (true, Style::Spaced) => "{ ",
        (true, _) => "{\n",
        (false, _) => open,
    });
    for (i, (k, v)) in doc.members.iter().enumerate() {
        if i > 0 {
            t.push_str(sep);
        }
        t.push_str(indent);
        let ms = t.len();
        t.push_str(&k.json());
        t.push_str(colon);
        let vs = t.len();
        let value = match doc.style {
            Style::Pretty => serde_json::to_string_pretty(v)
                .unwrap()
                .replace('\n', &format!("\n{indent}")),
            _ => serde_json::to_string(v).unwrap(),
        };
        t.push_str(&value);
        ranges.push(Span {
            value: (vs, t.len()),
            member: (ms, t.len()),
        });
    }
    t.push_str(if doc.members.is_empty() { "}" } else { close });
    if doc.final_nl {
        t.push('\n');
    }
    // Line endings, keeping the ranges right (JSON strings hold no raw
    // newline). A CR goes before its LF; an offset maps to before the CR.
    let mut out = String::new();
    if doc.bom {
        out.push('\u{feff}');
    }
    let mut map = vec![0; t.len() + 1];
    let mut breaks = 0;
    for (i, c) in t.char_indices() {
        map[i] = out.len();
        if c == '\n' {
            if doc.crlf[breaks % doc.crlf.len()] {
                out.push('\r');
            }
            breaks += 1;
        }
        out.push(c);
    }
    map[t.len()] = out.len();
    let ranges = ranges
        .into_iter()
        .map(|r| Span {
            value: (map[r.value.0], map[r.value.1]),
            member: (map[r.member.0], map[r.member.1]),
        })
        .collect();
    (out, ranges)
}

/// What the editor must do with a document.
#[derive(Debug)]
enum Expect {
    Unchanged,
    /// Refused (the cause is repairable).
    Refused,
    /// The key added; the object was empty or not.
    Inserted {
        was_empty: bool,
    },
    /// One value (byte range) replaced by `true`, nothing else.
    Replaced((usize, usize)),
    /// Members (indices) removed with their commas; maybe one value set to true.
    Removed {
        members: Vec<usize>,
        then_true: Option<(usize, usize)>,
    },
}

fn model(doc: &Doc, ranges: &[Span], flag: bool, repair: bool) -> (Expect, Vec<(String, Value)>) {
    let exps: Vec<usize> = (0..doc.members.len())
        .filter(|&i| doc.members[i].0.is_exp())
        .collect();
    let named: Vec<(String, Value)> = doc
        .members
        .iter()
        .map(|(k, v)| (k.name(), v.clone()))
        .collect();
    let without = |drop: &[usize]| -> Vec<(String, Value)> {
        (0..named.len())
            .filter(|i| !drop.contains(i))
            .map(|i| named[i].clone())
            .collect()
    };
    let t = Value::Bool(true);
    match (flag, exps.as_slice()) {
        (true, []) => (Expect::Unchanged, named),
        (true, _) if !repair => (Expect::Refused, named),
        (true, _) => (
            Expect::Removed {
                members: exps.clone(),
                then_true: None,
            },
            without(&exps),
        ),
        (false, []) => {
            let mut m = named.clone();
            m.push((EXP.into(), t));
            (
                Expect::Inserted {
                    was_empty: named.is_empty(),
                },
                m,
            )
        }
        (false, [i]) => {
            let mut m = named.clone();
            m[*i].1 = t.clone();
            match &doc.members[*i].1 {
                Value::Bool(true) => (Expect::Unchanged, named),
                Value::Bool(false) => (Expect::Replaced(ranges[*i].value), m),
                _ if repair => (Expect::Replaced(ranges[*i].value), m),
                _ => (Expect::Refused, named),
            }
        }
        (false, [earlier @ .., last]) => {
            if !repair {
                return (Expect::Refused, named);
            }
            let mut m = named.clone();
            m[*last].1 = t.clone();
            let keep_value = doc.members[*last].1 == t;
            let m: Vec<_> = (0..m.len())
                .filter(|i| !earlier.contains(i))
                .map(|i| m[i].clone())
                .collect();
            (
                Expect::Removed {
                    members: earlier.to_vec(),
                    then_true: (!keep_value).then_some(ranges[*last].value),
                },
                m,
            )
        }
    }
}

// ------------------------------------------------------- daemon.json generators

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        // Exactly representable, so they read back the same.
        (-4000i32..4000).prop_map(|i| Value::from(f64::from(i) / 8.0)),
        "[ -~é]{0,8}".prop_map(Value::String),
        Just(Value::String("true".into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            // Nested objects may hold "experimental" too: not the daemon's key.
            prop::collection::vec(
                (prop_oneof![Just(EXP.to_string()), "[a-z\"é]{1,6}"], inner),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn member() -> impl Strategy<Value = (Key, Value)> {
    prop_oneof![
        3 => (
            prop_oneof![
                "[a-z-]{1,8}",
                Just("Experimental".to_string()),
                Just("experimental ".to_string()),
            ],
            json_value()
        )
            .prop_map(|(k, v)| (Key::Other(k), v)),
        2 => (
            prop_oneof![4 => Just(Key::Exp), 1 => Just(Key::ExpEscaped)],
            prop_oneof![3 => any::<bool>().prop_map(Value::Bool), 2 => json_value()],
        ),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        prop::collection::vec(member(), 0..7),
        prop_oneof![
            Just(Style::Compact),
            Just(Style::Spaced),
            Just(Style::Pretty),
            Just(Style::CommaFirst)
        ],
        prop_oneof![
            Just(vec![false]),
            Just(vec![true]),
            prop::collection::vec(any::<bool>(), 1..6),
        ],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(members, style, crlf, bom, final_nl)| Doc {
            members,
            style,
            crlf,
            bom,
            final_nl,
        })
}

/// Text made of JSON tokens: mostly objects, often broken, with duplicates.
fn json_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just(","),
            Just(":"),
            Just("\"experimental\""),
            Just("\"experimenta\\u006c\""),
            Just("\"a\""),
            Just("\"é\""),
            Just("true"),
            Just("false"),
            Just("null"),
            Just("1"),
            Just(" "),
            Just("\n"),
            Just("\r\n"),
            Just("\r"),
            Just("\t"),
            Just("\u{feff}"),
            Just("//"),
        ],
        0..40,
    )
    .prop_map(|t| t.concat())
}

// ---------------------------------------------------------- runc.conf generators

fn runc_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tcp-established".to_string()),
        Just("no-tcp-established".to_string()),
        Just("# tcp-established".to_string()),
        Just("--tcp-established".to_string()),
        Just("skip-in-flight".to_string()),
        Just("no-skip-in-flight".to_string()),
        Just("ghost-limit 10M".to_string()),
        Just("--ghost-limit 10M".to_string()),
        Just("ghost-limit=1M # trailing".to_string()),
        Just("log-file \"/tmp/a b\"".to_string()),
        Just("log-file=/tmp/y".to_string()),
        Just("manage-cgroups soft".to_string()),
        Just("manage-cgroups=full".to_string()),
        Just("manage-cgroups".to_string()),
        Just("cpu-cap fpu".to_string()),
        Just("\"tcp-close\"".to_string()),
        Just("".to_string()),
        Just("   ".to_string()),
        Just("\ttcp-established  ".to_string()),
        Just("# é ü".to_string()),
        "[a-z-]{1,12}",
        "[ -~]{0,20}",
    ]
}

fn runc_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((runc_line(), any::<bool>()), 0..8),
        any::<bool>(),
        prop_oneof![3 => Just(0u8), 1 => Just(1), 1 => Just(2)],
    )
        .prop_map(|(lines, final_nl, eol)| {
            // eol: 0 LF, 1 CRLF, 2 mixed
            let mut t = String::new();
            for (i, (l, cr)) in lines.iter().enumerate() {
                t.push_str(l);
                if i + 1 < lines.len() || final_nl {
                    if eol == 1 || (eol == 2 && *cr) {
                        t.push('\r');
                    }
                    t.push('\n');
                }
            }
            t
        })
}

/// A `--criu-option` string built from the table, often valid, often not.
fn criu_spec() -> impl Strategy<Value = String> {
    (
        0..CRIU_OPTIONS.len(),
        0usize..3,
        prop_oneof![Just(""), Just(" "), Just("="), Just("  ")],
        prop_oneof![
            3 => "[a-zA-Z0-9/._:,-]{1,8}",
            2 => "[a-z0-9/]{1,5}( [a-z0-9/]{1,5}){0,2}",
            2 => "[ -~é]{0,12}",
            1 => Just(String::new()),
        ],
    )
        .prop_map(|(i, dashes, sep, value)| {
            let name = CRIU_OPTIONS[i].0;
            let sep = if value.is_empty() { "" } else { sep };
            format!("{}{name}{sep}{value}", "-".repeat(dashes))
        })
}

fn wanted() -> impl Strategy<Value = Vec<CriuOption>> {
    prop::collection::vec(
        prop_oneof![
            Just("skip-in-flight".to_string()),
            Just("ghost-limit 100M".to_string()),
            Just("tcp-close".to_string()),
            Just("log-file /tmp/x y".to_string()),
            Just("manage-cgroups".to_string()),
            Just("manage-cgroups=props".to_string()),
            criu_spec(),
        ],
        0..4,
    )
    .prop_map(|specs| {
        let mut v = vec![CriuOption::flag("tcp-established")];
        v.extend(specs.iter().filter_map(|s| CriuOption::parse(s).ok()));
        v
    })
}

/// Characters no `--criu-option` may contain.
fn forbidden() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
        (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap()),
        Just('\u{2028}'),
        Just('\u{2029}'),
        Just('\u{85}'),
        Just('\u{b}'),
        Just('\u{1b}'),
    ]
}

/// Control characters and line/paragraph separators, decided independently of
/// the implementation.
fn is_control_or_separator(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

proptest! {
    // No regression files: this test may only write tests/props.rs.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The model of what ensure_experimental must do, on documents with any
    /// number of "experimental" keys anywhere, every value type, flag or not,
    /// repair or not, CRLF/mixed line endings, BOM, nested objects.
    #[test]
    fn daemon_json_editor(doc in doc(), flag in any::<bool>(), repair in any::<bool>()) {
        let (text, ranges) = render(&doc);
        let inputs = DaemonInputs { experimental_flag: flag };
        let (expect, members) = model(&doc, &ranges, flag, repair);
        let result = daemon_json::ensure_experimental(&text, &inputs, repair);
        let edit = match (result, &expect) {
            (Err(e), Expect::Refused) => {
                check_error_location(&text, e.line, e.column, &e.cause)?;
                prop_assert!(e.repair.is_some(), "a repairable problem: {e}");
                return Ok(());
            }
            (Err(e), _) => return Err(TestCaseError::fail(format!("{expect:?} but refused: {e} in {text:?}"))),
            (Ok(edit), Expect::Refused) => return Err(TestCaseError::fail(format!("should refuse {text:?}, got {:?}", edit.text))),
            (Ok(edit), _) => edit,
        };
        // Strict JSON with the members expected, in order; other keys untouched.
        let out = strict_members(&edit.text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&out, &Members(members));
        // "experimental" once and true (absent with the flag), as dockerd reads it.
        prop_assert_eq!(out.0.iter().filter(|(k, _)| k == EXP).count(), usize::from(!flag));
        prop_assert_eq!(
            daemon_json::experimental_value(&edit.text).unwrap(),
            (!flag).then_some(Value::Bool(true))
        );
        prop_assert_eq!(edit.text.starts_with('\u{feff}'), doc.bom);
        // Minimal.
        match &expect {
            Expect::Unchanged => {
                prop_assert_eq!(&edit.text, &text);
                prop_assert!(edit.notes.is_empty());
            }
            Expect::Refused => unreachable!(),
            Expect::Inserted { was_empty } => {
                let (taken, put) = diff(&text, &edit.text);
                prop_assert_eq!(taken, "");
                let member: String = put.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                let want = if *was_empty { "\"experimental\":true" } else { ",\"experimental\":true" };
                prop_assert_eq!(member, want);
                // An inserted line break is of a kind the file already uses.
                if put.contains("\r\n") {
                    prop_assert!(text.contains("\r\n"), "inserted {put:?} into {text:?}");
                }
                if put.replace("\r\n", "").contains('\n') {
                    prop_assert!(text.replace("\r\n", "").contains('\n'), "inserted {put:?} into {text:?}");
                }
                if doc.crlf.iter().all(|&c| c) {
                    prop_assert!(!put.replace("\r\n", "").contains('\n'), "inserted {put:?} into {text:?}");
                }
                prop_assert_eq!(edit.notes.len(), 1);
            }
            Expect::Replaced((vs, ve)) => {
                let want = format!("{}true{}", &text[..*vs], &text[*ve..]);
                prop_assert_eq!(&edit.text, &want);
            }
            Expect::Removed { members: gone, then_true } => {
                let base = match then_true {
                    Some((vs, ve)) => format!("{}true{}", &text[..*vs], &text[*ve..]),
                    None => text.clone(),
                };
                prop_assert!(is_subsequence(&edit.text, &base), "{:?} is not {:?} with parts removed", edit.text, base);
                let commas = if gone.len() == doc.members.len() { gone.len() - 1 } else { gone.len() };
                let removed: usize = gone.iter().map(|&i| non_ws(&text[ranges[i].member.0..ranges[i].member.1])).sum();
                prop_assert_eq!(non_ws(&base) - non_ws(&edit.text), removed + commas, "{:?} -> {:?}", text, edit.text);
            }
        }
        // Idempotent.
        let again = daemon_json::ensure_experimental(&edit.text, &inputs, repair).unwrap();
        prop_assert_eq!(&again.text, &edit.text);
        prop_assert!(again.notes.is_empty(), "{:?}", again.notes);
    }

    /// Arbitrary token soup: no panic; what is written is a strict JSON object
    /// that needs no second pass; an error names a line of the input.
    #[test]
    fn daemon_json_never_panics(text in json_soup(), repair in any::<bool>(), flag in any::<bool>()) {
        let inputs = DaemonInputs { experimental_flag: flag };
        match daemon_json::ensure_experimental(&text, &inputs, repair) {
            // With the flag an empty file is fine as it is.
            Ok(edit) if flag && text.trim_start_matches('\u{feff}').trim().is_empty() => {
                prop_assert_eq!(&edit.text, &text);
            }
            Ok(edit) => {
                let m = strict_members(&edit.text).map_err(TestCaseError::fail)?;
                let exps: Vec<_> = m.0.iter().filter(|(k, _)| k == EXP).collect();
                if flag {
                    prop_assert!(exps.is_empty());
                } else {
                    let on = (EXP.to_string(), Value::Bool(true));
                    prop_assert_eq!(exps, vec![&on]);
                }
                let again = daemon_json::ensure_experimental(&edit.text, &inputs, repair).unwrap();
                prop_assert_eq!(&again.text, &edit.text);
                prop_assert!(again.notes.is_empty());
            }
            Err(e) => check_error_location(&text, e.line, e.column, &e.cause)?,
        }
    }

    /// A document cut short anywhere (a truncated write): refused with a
    /// cause that points at a line and column that exist in the input.
    #[test]
    fn daemon_json_errors_point_into_the_input(doc in doc(), cut in any::<prop::sample::Index>(), flag in any::<bool>(), repair in any::<bool>()) {
        let (text, _) = render(&doc);
        let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let text = &text[..ends[cut.index(ends.len())]];
        let inputs = DaemonInputs { experimental_flag: flag };
        if let Err(e) = daemon_json::ensure_experimental(text, &inputs, repair) {
            check_error_location(text, e.line, e.column, &e.cause)?;
        }
    }

    #[test]
    fn runc_conf_editor(text in runc_text(), want in wanted(), repair in any::<bool>()) {
        match runc_conf::ensure_options(&text, &want, repair) {
            Err(e) => {
                check_error_location(&text, e.line, e.column, &e.cause)?;
                // With repair only what cannot be repaired is refused.
                prop_assert!(!repair || e.repair.is_none(), "{e}");
            }
            Ok(edit) => {
                // The last wish per option is in effect, as CRIU reads the file.
                for (i, o) in want.iter().enumerate() {
                    if want[i + 1..].iter().any(|l| l.name == o.name) {
                        continue;
                    }
                    let eff = runc_conf::effective(&edit.text, &o.name).unwrap();
                    prop_assert_eq!(eff, Some(o.value.clone().unwrap_or_default()), "{} in\n{}", o, edit.text);
                }
                prop_assert!(!edit.text.contains('\r'));
                let again = runc_conf::ensure_options(&edit.text, &want, repair).unwrap();
                prop_assert_eq!(&again.text, &edit.text);
                prop_assert!(again.notes.is_empty(), "{:?}", again.notes);
                if edit.notes.is_empty() {
                    prop_assert_eq!(&edit.text, &text);
                }
                // Lines the editor did not name in a note are kept byte for byte
                // (after CRLF -> LF, when that was the repair).
                let lone_cr = text.replace("\r\n", "").contains('\r');
                if !lone_cr {
                    let before = text.replace("\r\n", "\n");
                    let before: Vec<&str> = before.lines().collect();
                    let after: Vec<&str> = edit.text.lines().collect();
                    prop_assert!(after.len() >= before.len());
                    for (i, l) in before.iter().enumerate() {
                        let named = edit.notes.iter().any(|n| n.contains(&format!("line {}:", i + 1)));
                        if !named {
                            prop_assert_eq!(after[i], *l, "line {} of {:?}", i + 1, text);
                        }
                    }
                    // Whatever was added is one wished-for option per line.
                    for l in &after[before.len()..] {
                        prop_assert!(want.iter().any(|o| o.line() == *l), "added {l:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn runc_conf_never_panics(text in "[ -~\r\n\t\"#=é-]{0,200}", want in wanted()) {
        for repair in [false, true] {
            if let Err(e) = runc_conf::ensure_options(&text, &want, repair) {
                check_error_location(&text, e.line, e.column, &e.cause)?;
            }
        }
    }

    /// `CriuOption::parse` never accepts a control or line-separator character,
    /// wherever it is.
    #[test]
    fn criu_option_rejects_control_characters(spec in criu_spec(), c in forbidden(), at in any::<prop::sample::Index>()) {
        let mut chars: Vec<char> = spec.chars().collect();
        chars.insert(at.index(chars.len() + 1), c);
        let bad: String = chars.into_iter().collect();
        let err = CriuOption::parse(&bad);
        prop_assert!(err.is_err(), "accepted {bad:?}: {err:?}");
        let quoted = format!("{bad:?}");
        prop_assert!(err.unwrap_err().contains(&quoted));
    }

    /// Specs with arbitrary characters (proptest favours unusual ones) put in
    /// anywhere: whatever is accepted has no control or separator character.
    #[test]
    fn criu_option_parse_any_string(
        spec in criu_spec(),
        extra in prop::collection::vec((any::<char>(), any::<prop::sample::Index>()), 0..3),
    ) {
        let mut chars: Vec<char> = spec.chars().collect();
        for (c, at) in extra {
            chars.insert(at.index(chars.len() + 1), c);
        }
        let spec: String = chars.into_iter().collect();
        if let Ok(o) = CriuOption::parse(&spec) {
            prop_assert!(!spec.chars().any(is_control_or_separator), "accepted {spec:?}");
            prop_assert!(!o.line().chars().any(is_control_or_separator));
        }
    }

    /// An accepted option is written as one runc.conf statement that reads
    /// back as the same option and value, alone and among other lines.
    #[test]
    fn criu_option_round_trips(spec in criu_spec(), text in runc_text()) {
        let Ok(o) = CriuOption::parse(&spec) else { return Ok(()) };
        let value = o.value.clone().unwrap_or_default();
        let line = format!("{}\n", o.line());
        prop_assert_eq!(runc_conf::effective(&line, &o.name).unwrap(), Some(value.clone()), "{:?}", line);
        prop_assert_eq!(line.lines().count(), 1);
        if let Ok(e) = runc_conf::ensure_options(&text, std::slice::from_ref(&o), true) {
            prop_assert_eq!(runc_conf::effective(&e.text, &o.name).unwrap(), Some(value), "{}", e.text);
        }
        // The same option given again is a no-op; another value is refused.
        prop_assert_eq!(runc_conf::parse_all(&[spec.clone(), spec.clone()]), Ok(vec![o.clone()]));
        if let Ok(other) = CriuOption::parse(&format!("{}=zz9", o.name)) && other != o {
            let err = runc_conf::parse_all(&[spec.clone(), format!("{}=zz9", o.name)]).unwrap_err();
            prop_assert!(err.contains(&format!("{spec:?}")), "{err}");
        }
    }
}
