//! Property tests of the pure editors: any input never panics; what they
//! produce parses and has the option in effect; applying twice equals
//! applying once; everything else is unchanged.

use dockpoint::daemon_json::{self, DaemonInputs};
use dockpoint::runc_conf::{self, CriuOption};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn runc_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tcp-established".to_string()),
        Just("no-tcp-established".to_string()),
        Just("# tcp-established".to_string()),
        Just("--tcp-established".to_string()),
        Just("skip-in-flight".to_string()),
        Just("ghost-limit 10M".to_string()),
        Just("ghost-limit=1M # trailing".to_string()),
        Just("log-file \"/tmp/a b\"".to_string()),
        Just("".to_string()),
        Just("   ".to_string()),
        Just("\ttcp-established  ".to_string()),
        "[a-z-]{1,12}",
        "[ -~]{0,20}",
    ]
}

fn runc_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(runc_line(), 0..8),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, final_nl, crlf)| {
            let sep = if crlf { "\r\n" } else { "\n" };
            let mut t = lines.join(sep);
            if final_nl && !t.is_empty() {
                t.push_str(sep);
            }
            t
        })
}

fn wanted() -> impl Strategy<Value = Vec<CriuOption>> {
    prop::collection::vec(
        prop_oneof![
            Just("skip-in-flight"),
            Just("ghost-limit 100M"),
            Just("tcp-close"),
            Just("log-file /tmp/x y"),
        ],
        0..3,
    )
    .prop_map(|specs| {
        let mut v = vec![CriuOption::flag("tcp-established")];
        v.extend(specs.iter().map(|s| CriuOption::parse(s).unwrap()));
        v
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[ -~é]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z\"é]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn daemon_object() -> impl Strategy<Value = (Map<String, Value>, u8, bool, bool)> {
    (
        prop::collection::vec(("[a-z-]{1,10}", json_value()), 0..6),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(kv, exp, pretty, bom)| {
            let mut m: Map<String, Value> = kv
                .into_iter()
                .filter(|(k, _)| k != "experimental")
                .collect();
            match exp {
                1 => {
                    m.insert("experimental".into(), Value::Bool(false));
                }
                2 => {
                    m.insert("experimental".into(), Value::Bool(true));
                }
                _ => {}
            }
            (m, exp, pretty, bom)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn runc_conf_editor(text in runc_text(), want in wanted(), repair in any::<bool>()) {
        match runc_conf::ensure_options(&text, &want, repair) {
            Err(e) => {
                prop_assert!(e.line >= 1);
                prop_assert!(!repair || e.repair.is_none());
            }
            Ok(edit) => {
                for o in &want {
                    let eff = runc_conf::effective(&edit.text, &o.name).unwrap();
                    match &o.value {
                        None => prop_assert!(eff.is_some(), "{} not in effect:\n{}", o.name, edit.text),
                        Some(v) => prop_assert_eq!(eff.as_ref(), Some(v)),
                    }
                }
                let again = runc_conf::ensure_options(&edit.text, &want, repair).unwrap();
                prop_assert_eq!(&again.text, &edit.text);
                prop_assert!(again.notes.is_empty());
                if edit.notes.is_empty() {
                    prop_assert_eq!(&edit.text, &text);
                }
                // Lines the editor did not name in a note are kept byte for byte.
                if !text.contains('\r') {
                    let kept = edit.text.lines().collect::<Vec<_>>();
                    for (i, l) in text.lines().enumerate() {
                        let named = edit.notes.iter().any(|n| n.contains(&format!("line {}", i + 1)));
                        if !named {
                            prop_assert_eq!(kept.get(i).copied(), Some(l));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn runc_conf_never_panics(text in "[ -~\r\n\t\"#=-]{0,200}") {
        let _ = runc_conf::ensure_options(&text, &[CriuOption::flag("tcp-established")], false);
        let _ = runc_conf::ensure_options(&text, &[CriuOption::flag("tcp-established")], true);
    }

    #[test]
    fn daemon_json_editor((obj, exp, pretty, bom) in daemon_object()) {
        let body = if pretty {
            serde_json::to_string_pretty(&Value::Object(obj.clone())).unwrap()
        } else {
            serde_json::to_string(&Value::Object(obj.clone())).unwrap()
        };
        let text = if bom { format!("\u{feff}{body}\n") } else { format!("{body}\n") };
        let edit = daemon_json::ensure_experimental(&text, &DaemonInputs::default(), false).unwrap();
        prop_assert_eq!(edit.text.starts_with('\u{feff}'), bom);
        let out: Value = serde_json::from_str(edit.text.trim_start_matches('\u{feff}')).unwrap();
        prop_assert_eq!(&out["experimental"], &Value::Bool(true));
        // Other keys unchanged, in the same order.
        let mut expect = obj.clone();
        expect.insert("experimental".into(), Value::Bool(true));
        prop_assert_eq!(out.as_object().unwrap(), &expect);
        let keys_in: Vec<_> = obj.keys().filter(|k| *k != "experimental").collect();
        let keys_out: Vec<_> = out.as_object().unwrap().keys().filter(|k| *k != "experimental").collect();
        prop_assert_eq!(keys_in, keys_out);
        // Minimal: a flip changes 5 bytes into 4; an insertion only adds.
        match exp {
            2 => prop_assert_eq!(&edit.text, &text),
            1 => prop_assert_eq!(edit.text.len() + 1, text.len()),
            _ => prop_assert!(edit.text.len() > text.len()),
        }
        let again = daemon_json::ensure_experimental(&edit.text, &DaemonInputs::default(), false).unwrap();
        prop_assert_eq!(&again.text, &edit.text);
        prop_assert!(again.notes.is_empty());
    }

    #[test]
    fn daemon_json_never_panics(text in "[ -~\n\t{}\\[\\]\":,é]{0,200}", repair in any::<bool>(), flag in any::<bool>()) {
        let inputs = DaemonInputs { experimental_flag: flag };
        if let Ok(edit) = daemon_json::ensure_experimental(&text, &inputs, repair)
            && edit.text != text
        {
            let v: Value = serde_json::from_str(edit.text.trim_start_matches('\u{feff}')).unwrap();
            prop_assert!(v.is_object());
        }
    }
}
