//! The pure editor for `/etc/docker/daemon.json`: old text in, new text out,
//! with the smallest possible edit.
//!
//! dockerd reads strict JSON (no comments, no trailing commas), accepts a
//! UTF-8 BOM (>= 23.0) and duplicate keys (last wins), and rejects wrong
//! types (`"experimental": "true"`). When the key is added only the new
//! member and the comma after the previous one appear; when `false` is
//! flipped only that value changes.

use jsonc_parser::ast::{Object, ObjectProp, Value as Ast};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};

pub use crate::edit::{Edit, EditError as JsonError};

const KEY: &str = "experimental";
const BOM: char = '\u{feff}';

/// What the daemon.json step knows about the live daemon.
#[derive(Debug, Clone, Default)]
pub struct DaemonInputs {
    /// dockerd already runs with `--experimental`: the key must not be in the
    /// file too, or dockerd refuses to start.
    pub experimental_flag: bool,
}

/// The 1-based line and column (in characters) of byte `byte` of `text`.
fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, col)
}

/// The byte offset of serde_json's 1-based line and (byte) column, within `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

/// Parse strictly, the way dockerd does, with a message that says what to fix.
fn strict_parse(body: &str) -> Result<serde_json::Value, JsonError> {
    serde_json::from_str::<serde_json::Value>(body).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let at = body
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.get(column.saturating_sub(1)..))
            .unwrap_or("");
        let msg = e.to_string();
        let hint = if at.starts_with("//") || at.starts_with("/*") {
            "comments are not allowed in daemon.json (dockerd reads strict JSON)".to_string()
        } else if msg.starts_with("trailing comma") {
            "trailing comma: dockerd reads strict JSON, remove the comma before the closing bracket"
                .to_string()
        } else if e.is_eof() {
            "the file ends in the middle of the JSON (truncated?)".to_string()
        } else {
            let m = msg.rsplit_once(" at line").map_or(msg.as_str(), |(m, _)| m);
            format!("invalid JSON: {m}")
        };
        // Where the problem is, in characters; a file that ends too early
        // points after its last character, not at a line past the end.
        let at = if e.is_eof() {
            body.trim_end_matches([' ', '\t', '\n', '\r']).len()
        } else {
            offset_of(body, line, column)
        };
        let (line, column) = line_col(body, at);
        JsonError {
            line,
            column: Some(column),
            cause: hint,
            repair: None,
        }
    })
}

/// The top-level members named "experimental", with their index among all members.
fn props_named<'a, 'b>(obj: &'b Object<'a>) -> Vec<(usize, &'b ObjectProp<'a>)> {
    obj.properties
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.as_str() == KEY)
        .collect()
}

/// Ensure `"experimental": true` is in effect (or, with the flag set, that the
/// file does not set the key at all).
pub fn ensure_experimental(
    text: &str,
    inputs: &DaemonInputs,
    repair: bool,
) -> Result<Edit, JsonError> {
    let bom = text.starts_with(BOM);
    let body = text.strip_prefix(BOM).unwrap_or(text);
    let unchanged = || Edit {
        text: text.to_string(),
        notes: vec![],
    };
    if body.trim().is_empty() {
        if inputs.experimental_flag {
            return Ok(unchanged());
        }
        let mut out = String::new();
        if bom {
            out.push(BOM);
        }
        let brk = usual_break(body);
        out.push_str(&format!("{{{brk}  \"{KEY}\": true{brk}}}{brk}"));
        let note = if text.is_empty() {
            "created with \"experimental\": true"
        } else {
            "the file was empty: wrote {\"experimental\": true}"
        };
        return Ok(Edit {
            text: out,
            notes: vec![note.into()],
        });
    }
    let value = strict_parse(body)?;
    if !value.is_object() {
        return Err(JsonError {
            line: 1,
            column: Some(1),
            cause: "the top level of daemon.json must be a JSON object `{...}`".into(),
            repair: None,
        });
    }
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let ast =
        jsonc_parser::parse_to_ast(body, &CollectOptions::default(), &strict).map_err(|e| {
            let (line, column) = line_col(body, e.range().start);
            JsonError {
                line,
                column: Some(column),
                cause: format!("invalid JSON: {}", e.kind()),
                repair: None,
            }
        })?;
    let Some(Ast::Object(obj)) = ast.value else {
        unreachable!("serde_json said this is an object");
    };
    let found = props_named(&obj);
    let mut edits: Vec<(usize, usize, String)> = Vec::new(); // byte ranges in body
    let mut notes = Vec::new();
    let at = |p: &ObjectProp| line_col(body, p.range.start);

    if inputs.experimental_flag {
        if found.is_empty() {
            return Ok(unchanged());
        }
        let (line, column) = at(found[0].1);
        if !repair {
            return Err(JsonError {
                line,
                column: Some(column),
                cause: "dockerd already runs with the --experimental flag; with the key in daemon.json too it refuses to start (`specified both as a flag and in the configuration file`)".into(),
                repair: Some("remove \"experimental\" from daemon.json (the flag keeps it on)".into()),
            });
        }
        let all: Vec<usize> = found.iter().map(|&(i, _)| i).collect();
        edits.extend(removals(&obj, &all));
        notes.push("removed \"experimental\": the --experimental flag already turns it on".into());
    } else if found.len() > 1 {
        let (line, column) = at(found[1].1);
        if !repair {
            return Err(JsonError {
                line,
                column: Some(column),
                cause: format!(
                    "\"experimental\" is set {} times; dockerd takes the last one, which is easy to misread",
                    found.len()
                ),
                repair: Some("keep one \"experimental\": true and remove the others".into()),
            });
        }
        let (_, last) = found[found.len() - 1];
        let earlier: Vec<usize> = found[..found.len() - 1].iter().map(|&(i, _)| i).collect();
        edits.extend(removals(&obj, &earlier));
        if last.value.as_boolean_lit().map(|b| b.value) != Some(true) {
            let r = last.value.range();
            edits.push((r.start, r.end, "true".into()));
        }
        notes.push(format!(
            "removed {} duplicate \"experimental\" keys, the remaining one is true",
            found.len() - 1
        ));
    } else if let Some(&(_, p)) = found.first() {
        match &p.value {
            Ast::BooleanLit(b) if b.value => return Ok(unchanged()),
            Ast::BooleanLit(b) => {
                edits.push((b.range.start, b.range.end, "true".into()));
                notes.push("\"experimental\": false -> true".into());
            }
            other => {
                let r = other.range();
                let (line, column) = at(p);
                let shown = &body[r.start..r.end];
                if !repair {
                    return Err(JsonError {
                        line,
                        column: Some(column),
                        cause: format!(
                            "\"experimental\" is {shown}, not a boolean: dockerd refuses to start (`cannot unmarshal ... of type bool`)"
                        ),
                        repair: Some(format!("replace {shown} with true")),
                    });
                }
                edits.push((r.start, r.end, "true".into()));
                notes.push(format!("\"experimental\": {shown} -> true"));
            }
        }
    } else {
        edits.push(insertion(body, &obj));
        notes.push("added \"experimental\": true".into());
    }

    let mut out = String::with_capacity(text.len() + 32);
    if bom {
        out.push(BOM);
    }
    out.push_str(&apply(body, edits)?);
    Ok(Edit { text: out, notes })
}

/// Apply non-overlapping edits (byte ranges of `body`). Overlapping or
/// out-of-range edits are a bug here; they give an error, so the file is left
/// alone, rather than a panic or a corrupt file.
fn apply(body: &str, mut edits: Vec<(usize, usize, String)>) -> Result<String, JsonError> {
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(body.len() + 32);
    let mut cursor = 0;
    for (s, e, with) in edits {
        let (Some(kept), true) = (body.get(cursor..s), s <= e && body.is_char_boundary(e)) else {
            let (line, column) = line_col(body, s.min(body.len()));
            return Err(JsonError {
                line,
                column: Some(column),
                cause: "internal error: overlapping edits to daemon.json (please report this); the file was left unchanged".into(),
                repair: None,
            });
        };
        out.push_str(kept);
        out.push_str(&with);
        cursor = e;
    }
    out.push_str(&body[cursor..]);
    Ok(out)
}

/// The line break starting at byte `i` of `s`: `\r\n`, `\n` or a lone `\r`.
fn break_at(s: &str, i: usize) -> Option<&'static str> {
    match s.as_bytes().get(i)? {
        b'\r' if s.as_bytes().get(i + 1) == Some(&b'\n') => Some("\r\n"),
        b'\r' => Some("\r"),
        b'\n' => Some("\n"),
        _ => None,
    }
}

/// The first line break in `s`.
fn first_break(s: &str) -> Option<&'static str> {
    (0..s.len()).find_map(|i| break_at(s, i))
}

/// The last line break in `s`: where it starts and what it is.
fn last_break(s: &str) -> Option<(usize, &'static str)> {
    let i = s.rfind(['\n', '\r'])?;
    if s.as_bytes()[i] == b'\n' && i > 0 && s.as_bytes()[i - 1] == b'\r' {
        Some((i - 1, "\r\n"))
    } else {
        Some((i, break_at(s, i)?))
    }
}

/// The line break most used in `s` (`\n` when there is none).
fn usual_break(s: &str) -> &'static str {
    let crlf = s.matches("\r\n").count();
    let lf = s.matches('\n').count() - crlf;
    let cr = s.matches('\r').count() - crlf;
    if crlf > lf && crlf >= cr {
        "\r\n"
    } else if cr > lf && cr > crlf {
        "\r"
    } else {
        "\n"
    }
}

/// The edit that adds the key after the last member, in the file's own style
/// and with its own line endings (those of the line the key goes after).
fn insertion(body: &str, obj: &Object) -> (usize, usize, String) {
    let (open, close) = (obj.range.start + 1, obj.range.end - 1);
    let Some(last) = obj.properties.last() else {
        let inner = &body[open..close];
        let with = match first_break(inner) {
            Some(brk) => format!("{brk}  \"{KEY}\": true"),
            // `{ }` becomes `{ "experimental": true }`.
            None => format!("{inner}\"{KEY}\": true"),
        };
        return (open, open, with);
    };
    // Whitespace before the last member: its line break and indentation.
    let prev_end = obj
        .properties
        .iter()
        .rev()
        .nth(1)
        .map_or(open, |p| p.range.end);
    let between = &body[prev_end..last.range.start];
    let ws = between.rsplit(',').next().unwrap_or_default();
    let sep = &body[last.name.range().end..last.value.range().start];
    let sep = if sep.trim() == ":" { sep } else { ": " };
    let lead = match last_break(ws) {
        Some((i, brk)) => {
            let indent = &ws[i + brk.len()..];
            let brk = first_break(&body[last.range.end..close]).unwrap_or(brk);
            format!("{brk}{indent}")
        }
        // A one-member, one-line object: follow the spacing after its colon.
        None if obj.properties.len() == 1 && sep.ends_with(' ') => " ".into(),
        None => ws.into(),
    };
    let at = last.range.end;
    (at, at, format!(",{lead}\"{KEY}\"{sep}true"))
}

/// The edits that remove the members at `remove` (indices into the object's
/// members), each with one comma and the whitespace before the next member.
/// Consecutive members are removed as one run, so no two edits overlap.
fn removals(obj: &Object, remove: &[usize]) -> Vec<(usize, usize, String)> {
    let props = &obj.properties;
    let mut out = Vec::new();
    let mut i = 0;
    while i < props.len() {
        if !remove.contains(&i) {
            i += 1;
            continue;
        }
        let first = i;
        while i < props.len() && remove.contains(&i) {
            i += 1;
        }
        // The run is first..i; member i (if any) and member first-1 (if any) stay.
        let range = if i < props.len() {
            (props[first].range.start, props[i].range.start)
        } else if first > 0 {
            (props[first - 1].range.end, props[i - 1].range.end)
        } else {
            (obj.range.start + 1, obj.range.end - 1)
        };
        out.push((range.0, range.1, String::new()));
    }
    out
}

/// Whether `text` turns experimental on (used to validate what is written).
pub fn experimental_value(text: &str) -> Result<Option<serde_json::Value>, JsonError> {
    let body = text.strip_prefix(BOM).unwrap_or(text);
    if body.trim().is_empty() {
        return Ok(None);
    }
    let v = strict_parse(body)?;
    Ok(v.get(KEY).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(text: &str) -> Edit {
        ensure_experimental(text, &DaemonInputs::default(), false).unwrap()
    }

    #[test]
    fn adds_key_in_the_files_style() {
        assert_eq!(
            on("{\n    \"log-driver\": \"journald\"\n}\n").text,
            "{\n    \"log-driver\": \"journald\",\n    \"experimental\": true\n}\n"
        );
        assert_eq!(
            on("{\"a\":1,\"b\":{\"c\":[1,2]}}").text,
            "{\"a\":1,\"b\":{\"c\":[1,2]},\"experimental\":true}"
        );
        assert_eq!(
            on("{\n\t\"a\" : 1\n}").text,
            "{\n\t\"a\" : 1,\n\t\"experimental\" : true\n}"
        );
        assert_eq!(on("{}").text, "{\"experimental\": true}");
        assert_eq!(on("{\n}\n").text, "{\n  \"experimental\": true\n}\n");
    }

    #[test]
    fn flips_false_only() {
        let t = "{\n  \"experimental\" :false, \"x\": \"é\"\n}";
        assert_eq!(on(t).text, "{\n  \"experimental\" :true, \"x\": \"é\"\n}");
    }

    #[test]
    fn true_is_untouched() {
        let t = "\u{feff}{ \"experimental\": true }";
        let e = on(t);
        assert_eq!(e.text, t);
        assert!(e.notes.is_empty());
    }

    #[test]
    fn empty_and_whitespace_files() {
        assert_eq!(on("").text, "{\n  \"experimental\": true\n}\n");
        assert_eq!(on("  \n").text, "{\n  \"experimental\": true\n}\n");
        assert!(on("\u{feff}").text.starts_with('\u{feff}'));
    }

    #[test]
    fn bom_is_kept() {
        let e = on("\u{feff}{\"a\": 1}");
        assert_eq!(e.text, "\u{feff}{\"a\": 1, \"experimental\": true}");
    }

    #[test]
    fn bad_input_errors() {
        for (t, line, needle, repairable) in [
            ("{\n  // c\n  \"a\": 1\n}", 2, "comments", false),
            ("{\n  \"a\": 1,\n}", 3, "trailing comma", false),
            ("[1]", 1, "object", false),
            ("{\"a\": ", 1, "truncated", false),
            ("{\"experimental\": \"true\"}", 1, "not a boolean", true),
            (
                "{\"experimental\": false,\n\"experimental\": true}",
                2,
                "2 times",
                true,
            ),
        ] {
            let err = ensure_experimental(t, &DaemonInputs::default(), false).unwrap_err();
            assert_eq!(err.line, line, "{t}");
            assert!(err.cause.contains(needle), "{t}: {}", err.cause);
            assert_eq!(err.repair.is_some(), repairable, "{t}");
        }
    }

    /// A truncated file is refused at the end of its last line, not at a
    /// line past the end; columns count characters.
    #[test]
    fn error_positions_exist_in_the_input() {
        for (t, line, column) in [
            ("{\n", 1, 2),
            ("{\"a\": \r\n\r\n", 1, 6),
            ("\u{feff}{\n  \"a\": 1,\n  \"b\":\n", 3, 7),
            ("{\"é\": tru}", 1, 10),
        ] {
            let err = ensure_experimental(t, &DaemonInputs::default(), false).unwrap_err();
            assert_eq!((err.line, err.column), (line, Some(column)), "{t:?}: {err}");
        }
    }

    #[test]
    fn repairs() {
        let r = |t| {
            ensure_experimental(t, &DaemonInputs::default(), true)
                .unwrap()
                .text
        };
        assert_eq!(
            r("{\"experimental\": \"true\"}"),
            "{\"experimental\": true}"
        );
        assert_eq!(
            r("{\n  \"experimental\": false,\n  \"a\": 1,\n  \"experimental\": false\n}"),
            "{\n  \"a\": 1,\n  \"experimental\": true\n}"
        );
        assert_eq!(
            r("{\n  \"a\": 1,\n  \"experimental\": true,\n  \"experimental\": 1\n}"),
            "{\n  \"a\": 1,\n  \"experimental\": true\n}"
        );
    }

    /// Issue 1: with the flag, `repair` and two "experimental" keys, one of
    /// them last, the removals overlapped and `replace_range` panicked.
    #[test]
    fn flag_repair_removes_every_duplicate_without_panicking() {
        let flag = DaemonInputs {
            experimental_flag: true,
        };
        for (input, want) in [
            (
                "{\"a\":1,\"experimental\":false,\"experimental\":true}",
                "{\"a\":1}",
            ),
            (
                "{\"a\": 1, \"experimental\": false, \"experimental\": true}",
                "{\"a\": 1}",
            ),
            (
                "{\n  \"a\": 1,\n  \"experimental\": false,\n  \"experimental\": true\n}\n",
                "{\n  \"a\": 1\n}\n",
            ),
            (
                "\u{feff}{\r\n  \"a\": 1,\r\n  \"experimental\": false,\r\n  \"experimental\": true\r\n}\r\n",
                "\u{feff}{\r\n  \"a\": 1\r\n}\r\n",
            ),
            ("{\"experimental\": 1, \"experimental\": 2}", "{}"),
            (
                "{\"experimental\": false, \"a\": 1, \"experimental\": true}",
                "{\"a\": 1}",
            ),
            (
                "{\"experimental\": 0, \"a\": 1, \"experimental\": null, \"b\": [], \"experimental\": {}}",
                "{\"a\": 1, \"b\": []}",
            ),
            (
                "{\"a\": 1, \"experimental\": true, \"experimental\": false, \"b\": 2}",
                "{\"a\": 1, \"b\": 2}",
            ),
        ] {
            let e = ensure_experimental(input, &flag, true).unwrap();
            assert_eq!(e.text, want, "{input:?}");
            assert_eq!(experimental_value(&e.text).unwrap(), None);
        }
    }

    /// Issue 2: an inserted line takes the file's own line ending.
    #[test]
    fn inserted_line_keeps_the_files_line_endings() {
        for (input, want) in [
            (
                "{\r\n  \"a\": 1\r\n}\r\n",
                "{\r\n  \"a\": 1,\r\n  \"experimental\": true\r\n}\r\n",
            ),
            (
                "\u{feff}{\r\n  \"a\": 1,\r\n  \"b\": 2\r\n}",
                "\u{feff}{\r\n  \"a\": 1,\r\n  \"b\": 2,\r\n  \"experimental\": true\r\n}",
            ),
            // Mixed: the line where the key goes (the last member's) decides.
            (
                "{\n  \"a\": 1,\r\n  \"b\": 2\r\n}\n",
                "{\n  \"a\": 1,\r\n  \"b\": 2,\r\n  \"experimental\": true\r\n}\n",
            ),
            (
                "{\r\n  \"a\": 1,\r\n  \"b\": 2\n}\r\n",
                "{\r\n  \"a\": 1,\r\n  \"b\": 2,\n  \"experimental\": true\n}\r\n",
            ),
            // The last member shares its line with the brace: the break before it.
            (
                "{\r\n  \"a\": 1,\r\n  \"b\": 2}",
                "{\r\n  \"a\": 1,\r\n  \"b\": 2,\r\n  \"experimental\": true}",
            ),
            ("{\r\n}\r\n", "{\r\n  \"experimental\": true\r\n}\r\n"),
            ("\r\n", "{\r\n  \"experimental\": true\r\n}\r\n"),
            (
                "{\r  \"a\": 1\r}",
                "{\r  \"a\": 1,\r  \"experimental\": true\r}",
            ),
        ] {
            let e = ensure_experimental(input, &DaemonInputs::default(), false).unwrap();
            assert_eq!(e.text, want, "{input:?}");
        }
    }

    #[test]
    fn flag_set_leaves_file_alone_or_refuses() {
        let flag = DaemonInputs {
            experimental_flag: true,
        };
        let e = ensure_experimental("{\"a\": 1}", &flag, false).unwrap();
        assert!(e.notes.is_empty());
        assert!(ensure_experimental("{\"experimental\": true}", &flag, false).is_err());
        let e = ensure_experimental("{\"a\": 1, \"experimental\": true}", &flag, true).unwrap();
        assert_eq!(e.text, "{\"a\": 1}");
    }
}
