//! The answers file: `dockpoint setup --config FILE` reads every setup
//! choice from a TOML file whose keys mirror setup's long flags (flags
//! override the file), and `--save-config FILE` writes the choices made,
//! updating an existing file in place with toml_edit (the operator's
//! comments, order and formatting kept; a second save of the same choices
//! changes no byte).
//!
//! [`parse`] and [`save`] are pure (text in, answers or text out); every
//! error names the file, the line and the key. The answers file is the
//! operator's, like `--root DIR` itself: it is read and written on the
//! machine dockpoint runs on, never inside `--root DIR` (the same file
//! serves a host and an image).

use super::criu_source_from;
use super::plan::{CriuSource, Flags};
use crate::cli::{Cli, Command, EnableArgs, Format, SetupArgs};
use crate::exit::Exit;
use crate::fsio;
use crate::host::{Host, SystemRunner, Term};
use crate::runc_conf::{self, CriuOption};
use crate::ui;
use clap::{Parser, ValueEnum};
use std::ops::Range;
use toml_edit::{Array, DocumentMut, Item, Table, TableLike, Value};

/// `restart = "ask" | "always" | "never"`: what happens to the docker
/// restart the plan may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// As without the file: the restart is part of the plan the operator
    /// confirms once (and, with "Review each step", is asked about); with
    /// `--yes` it is done.
    #[default]
    Ask,
    /// Restart when the plan needs it, without asking about it (not asked
    /// under "Review each step").
    Always,
    /// Never restart: `--no-restart` (the exact command is printed).
    Never,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Ask => "ask",
            Restart::Always => "always",
            Restart::Never => "never",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "ask" => Some(Restart::Ask),
            "always" => Some(Restart::Always),
            "never" => Some(Restart::Never),
            _ => None,
        }
    }
}

/// The `[enable]` table: `dockpoint enable` for each container, with the
/// same rules as its flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enable {
    pub containers: Vec<String>,
    /// `--every`, as enable normalises it.
    pub every: Option<String>,
    /// `--keep` (None: enable's default).
    pub keep: Option<u32>,
    pub on_shutdown: bool,
    /// `--tcp-close` (true) or `--no-tcp-close` (false).
    pub tcp_close: Option<bool>,
}

impl Enable {
    /// The argv of `dockpoint enable` for one container (flags first: a
    /// container name never reads as a flag).
    pub fn argv(&self, container: &str, yes: bool, json: bool) -> Vec<String> {
        let mut v: Vec<String> = vec!["dockpoint".into(), "enable".into()];
        if let Some(e) = &self.every {
            v.extend(["--every".into(), e.clone()]);
        }
        if let Some(k) = self.keep {
            v.extend(["--keep".into(), k.to_string()]);
        }
        if self.on_shutdown {
            v.push("--on-shutdown".into());
        }
        match self.tcp_close {
            Some(true) => v.push("--tcp-close".into()),
            Some(false) => v.push("--no-tcp-close".into()),
            None => {}
        }
        if yes {
            v.push("--yes".into());
        }
        if json {
            v.extend(["--format".into(), "json".into()]);
        }
        v.extend(["--".into(), container.into()]);
        v
    }

    /// The command as an operator would type it (for the plan and the docs).
    pub fn command(&self, container: &str, yes: bool) -> String {
        self.argv(container, yes, false)
            .into_iter()
            .filter(|a| a != "--")
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// enable's own arguments, through enable's own command line (its
    /// parsers and ranges): the rules cannot drift apart.
    fn args(&self, container: &str, yes: bool, json: bool) -> Result<EnableArgs, String> {
        match Cli::try_parse_from(self.argv(container, yes, json)) {
            Ok(Cli {
                command: Command::Enable(a),
            }) => Ok(a),
            Ok(_) => Err("not an enable command line".into()),
            Err(e) => Err(clap_message(&e)),
        }
    }
}

/// What the file says: each key as given (None: absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answers {
    pub yes: Option<bool>,
    pub format: Option<Format>,
    pub no_install: Option<bool>,
    pub no_restart: Option<bool>,
    pub restart: Option<Restart>,
    pub criu_options: Option<Vec<String>>,
    pub criu_source: Option<Vec<String>>,
    pub criu_base: Option<String>,
    pub criu_key: Option<String>,
    pub remove_criu_source: Option<bool>,
    pub repair: Option<bool>,
    pub skip: Option<Vec<String>>,
    pub enable: Option<Enable>,
}

impl Answers {
    /// The restart the file asks for (from `restart` or `no-restart`).
    pub fn restart_choice(&self) -> Option<Restart> {
        self.restart.or(self
            .no_restart
            .map(|n| if n { Restart::Never } else { Restart::Ask }))
    }
}

/// A key of the answers file, and the setup flag it mirrors.
pub struct KeyDef {
    pub key: &'static str,
    /// The long flag of `dockpoint setup` it mirrors (None: the file only).
    pub flag: Option<&'static str>,
}

/// Every top-level key the file may hold, in the order a new file gets them.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        key: "yes",
        flag: Some("yes"),
    },
    KeyDef {
        key: "format",
        flag: Some("format"),
    },
    KeyDef {
        key: "restart",
        flag: None,
    },
    KeyDef {
        key: "no-restart",
        flag: Some("no-restart"),
    },
    KeyDef {
        key: "no-install",
        flag: Some("no-install"),
    },
    KeyDef {
        key: "criu-options",
        flag: Some("criu-option"),
    },
    KeyDef {
        key: "criu-source",
        flag: Some("criu-source"),
    },
    KeyDef {
        key: "criu-base",
        flag: Some("criu-base"),
    },
    KeyDef {
        key: "criu-key",
        flag: Some("criu-key"),
    },
    KeyDef {
        key: "remove-criu-source",
        flag: Some("remove-criu-source"),
    },
    KeyDef {
        key: "repair",
        flag: Some("repair"),
    },
    KeyDef {
        key: "skip",
        flag: None,
    },
    KeyDef {
        key: "enable",
        flag: None,
    },
];

/// The keys of the `[enable]` table (each mirrors the flag of `dockpoint
/// enable` of the same name; `containers` is its argument, one run each).
pub const ENABLE_KEYS: &[&str] = &["containers", "every", "keep", "on-shutdown", "tcp-close"];

/// The setup flags that have no key, and why.
pub const NOT_IN_FILE: &[(&str, &str)] = &[
    (
        "dry-run",
        "how one run goes, not a choice about the host: a file saying it would make every run with it silently do nothing; `--dry-run --config FILE` previews what the file does",
    ),
    (
        "root",
        "which host or image the answers apply to, not an answer: the same file serves the live host and an image (`--root DIR --config FILE`)",
    ),
    (
        "verbose",
        "what one run shows on stderr (the commands it runs), not a choice about the host",
    ),
    ("config", "the answers file itself"),
    (
        "save-config",
        "where the answers are written; a file naming a file to write would write on every run",
    ),
];

/// An error in an answers file: the file, the line, the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "answers file {}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ", key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The first line of a clap error, without `error: `.
fn clap_message(e: &clap::Error) -> String {
    let s = e.to_string();
    let first = s.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Option<Range<usize>>, key: &str, msg: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: span.map(|s| line_at(self.text, s.start)),
            key: Some(key.to_string()),
            message: msg.into(),
        }
    }
}

fn kind_of(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

/// A string and where it is.
type Spanned = (String, Option<Range<usize>>);

/// One key's item, with where it is.
struct Got<'a> {
    key: String,
    item: &'a Item,
    /// The value's span (else the key's).
    span: Option<Range<usize>>,
}

impl Got<'_> {
    fn bool(&self, c: &Ctx) -> Result<bool, ConfigError> {
        self.item.as_bool().ok_or_else(|| {
            c.err(
                self.span.clone(),
                &self.key,
                format!("expected true or false, got {}", kind_of(self.item)),
            )
        })
    }

    fn string(&self, c: &Ctx) -> Result<String, ConfigError> {
        let s = self.item.as_str().ok_or_else(|| {
            c.err(
                self.span.clone(),
                &self.key,
                format!("expected a string, got {}", kind_of(self.item)),
            )
        })?;
        check_text(s).map_err(|m| c.err(self.span.clone(), &self.key, m))?;
        Ok(s.to_string())
    }

    /// An array of strings, each with its own line (for errors).
    fn strings(&self, c: &Ctx, eg: &str) -> Result<Vec<Spanned>, ConfigError> {
        let Some(a) = self.item.as_array() else {
            return Err(c.err(
                self.span.clone(),
                &self.key,
                format!(
                    "expected an array of strings ({eg}), got {}",
                    kind_of(self.item)
                ),
            ));
        };
        let mut out = Vec::new();
        for v in a.iter() {
            let span = v.span().or(self.span.clone());
            let Some(s) = v.as_str() else {
                return Err(c.err(
                    span,
                    &self.key,
                    format!(
                        "expected an array of strings ({eg}), got {} in it",
                        kind_of(&Item::Value(v.clone()))
                    ),
                ));
            };
            check_text(s).map_err(|m| c.err(span.clone(), &self.key, m))?;
            out.push((s.to_string(), span));
        }
        Ok(out)
    }
}

/// A string value: not empty, no control characters (they would end up in
/// commands and files).
fn check_text(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("empty string".into());
    }
    if let Some(ch) = s.chars().find(|c| c.is_control()) {
        return Err(format!("contains U+{:04X}, a control character", ch as u32));
    }
    Ok(())
}

/// The items of a table with their keys' and values' spans.
fn items<'a>(t: &'a dyn TableLike, prefix: &str) -> Vec<(Got<'a>, Option<Range<usize>>)> {
    t.iter()
        .map(|(k, item)| {
            let key_span = t.key(k).and_then(|k| k.span());
            let span = item.span().or(key_span.clone());
            (
                Got {
                    key: format!("{prefix}{k}"),
                    item,
                    span,
                },
                key_span,
            )
        })
        .collect()
}

/// A hint for a key that is not one.
fn unknown(key: &str, allowed: &[&str]) -> String {
    let bare = key.rsplit('.').next().unwrap_or(key);
    if let Some((_, why)) = NOT_IN_FILE.iter().find(|(f, _)| *f == bare) {
        return format!("not a key of the answers file (give --{bare} on the command line: {why})");
    }
    let norm = |k: &str| k.to_ascii_lowercase().replace(['-', '_'], "");
    let near = match bare {
        "criu-option" => Some("criu-options"),
        "container" => Some("containers"),
        _ => allowed.iter().find(|a| norm(a) == norm(bare)).copied(),
    };
    let list = allowed.join(", ");
    match near {
        Some(n) => format!("unknown key (did you mean `{n}`?); the keys are: {list}"),
        None => format!("unknown key; the keys are: {list}"),
    }
}

/// Parse an answers file: every key checked (its type, its value against
/// the same rules as its flag), every error naming the key and the line.
pub fn parse(text: &str, file: &str) -> Result<Answers, ConfigError> {
    let c = Ctx { text, file };
    let doc = toml_edit::Document::parse(text).map_err(|e| ConfigError {
        file: file.to_string(),
        line: e.span().map(|s| line_at(text, s.start)),
        key: None,
        message: format!(
            "not valid TOML: {}",
            e.message().lines().next().unwrap_or_default()
        ),
    })?;
    let allowed: Vec<&str> = KEYS.iter().map(|k| k.key).collect();
    let mut a = Answers::default();
    let mut source_line = None;
    let mut remove_line = None;
    for (g, key_span) in items(doc.as_table(), "") {
        match g.key.as_str() {
            "yes" => a.yes = Some(g.bool(&c)?),
            "no-install" => a.no_install = Some(g.bool(&c)?),
            "no-restart" => a.no_restart = Some(g.bool(&c)?),
            "repair" => a.repair = Some(g.bool(&c)?),
            "remove-criu-source" => {
                a.remove_criu_source = Some(g.bool(&c)?);
                remove_line = g.span.clone();
            }
            "format" => {
                let s = g.string(&c)?;
                a.format = Some(Format::from_str(&s, false).map_err(|_| {
                    c.err(
                        g.span.clone(),
                        &g.key,
                        format!("{s:?} is not one of \"human\", \"json\""),
                    )
                })?);
            }
            "restart" => {
                let s = g.string(&c)?;
                a.restart = Some(Restart::parse(&s).ok_or_else(|| {
                    c.err(
                        g.span.clone(),
                        &g.key,
                        format!("{s:?} is not one of \"ask\", \"always\", \"never\""),
                    )
                })?);
            }
            "criu-options" => {
                let list = g.strings(&c, "[\"skip-in-flight\", \"ghost-limit 100M\"]")?;
                for (s, span) in &list {
                    CriuOption::parse(s).map_err(|m| c.err(span.clone(), &g.key, flagless(&m)))?;
                }
                let specs: Vec<String> = list.into_iter().map(|(s, _)| s).collect();
                runc_conf::parse_all(&specs).map_err(|m| c.err(g.span.clone(), &g.key, m))?;
                a.criu_options = Some(specs);
            }
            "criu-source" => {
                let v = if g.item.is_str() {
                    vec![g.string(&c)?]
                } else if g.item.is_array() {
                    g.strings(&c, "\"obs\", or [\"URL\", \"SUITE\", \"COMPONENT\"]")?
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect()
                } else {
                    return Err(c.err(
                        g.span.clone(),
                        &g.key,
                        format!(
                            "expected a string (\"obs\") or an array of strings ([\"URL\", \"SUITE\", \"COMPONENT\"]), got {}",
                            kind_of(g.item)
                        ),
                    ));
                };
                if v.is_empty() {
                    return Err(c.err(g.span.clone(), &g.key, "empty array: give a source"));
                }
                criu_source_from(Some(&v)).map_err(|m| c.err(g.span.clone(), &g.key, m))?;
                a.criu_source = Some(v);
                source_line = g.span.clone();
            }
            "criu-base" => {
                let s = g.string(&c)?;
                if s.contains(char::is_whitespace) {
                    return Err(c.err(
                        g.span.clone(),
                        &g.key,
                        format!("{s:?}: a URL has no spaces"),
                    ));
                }
                a.criu_base = Some(s);
            }
            "criu-key" => a.criu_key = Some(g.string(&c)?),
            "skip" => {
                let list = g.strings(&c, "[\"criu.check\", \"docker\"]")?;
                for (id, span) in &list {
                    if !names_a_check(id) {
                        return Err(c.err(
                            span.clone(),
                            &g.key,
                            format!("no check `{id}`: see dockpoint doctor --list"),
                        ));
                    }
                }
                a.skip = Some(list.into_iter().map(|(s, _)| s).collect());
            }
            "enable" => a.enable = Some(parse_enable(&c, &g)?),
            other => return Err(c.err(key_span, other, unknown(other, &allowed))),
        }
    }
    if a.remove_criu_source == Some(true) && a.criu_source.is_some() {
        return Err(c.err(
            remove_line,
            "remove-criu-source",
            format!(
                "remove-criu-source = true and criu-source (line {}) cannot both be given: one undoes what the other installs",
                source_line.map_or(0, |s| line_at(text, s.start))
            ),
        ));
    }
    if let (Some(r), Some(n)) = (a.restart, a.no_restart)
        && n != (r == Restart::Never)
    {
        let span = doc.as_table().get("restart").and_then(Item::span);
        return Err(c.err(
            span,
            "restart",
            format!(
                "restart = \"{}\" contradicts no-restart = {n}: give one of them",
                r.as_str()
            ),
        ));
    }
    Ok(a)
}

/// `--criu-option "x": why` said of a list entry.
fn flagless(m: &str) -> String {
    m.strip_prefix("--criu-option ").unwrap_or(m).to_string()
}

/// Whether a `skip` entry names a doctor check (an id or a prefix), as
/// `dockpoint doctor --skip` takes it.
fn names_a_check(id: &str) -> bool {
    let p = id.trim_end_matches('.');
    !p.is_empty()
        && crate::doctor::checks::CHECKS
            .iter()
            .any(|c| c.id == p || c.id.starts_with(&format!("{p}.")))
}

fn parse_enable(c: &Ctx, g: &Got) -> Result<Enable, ConfigError> {
    let Some(t) = g.item.as_table_like() else {
        return Err(c.err(
            g.span.clone(),
            "enable",
            format!(
                "expected a table ([enable] with containers = [\"NAME\"], every, keep, on-shutdown), got {}",
                kind_of(g.item)
            ),
        ));
    };
    let mut e = Enable::default();
    let mut containers = None;
    for (s, key_span) in items(t, "enable.") {
        let bare = &s.key["enable.".len()..];
        match bare {
            "containers" => {
                let list = s.strings(c, "[\"bela\"]")?;
                let mut names: Vec<String> = Vec::new();
                for (n, span) in list {
                    if !crate::workflow::docker_name_chars(&n) {
                        return Err(c.err(
                            span,
                            &s.key,
                            format!(
                                "{n:?} is not a container name or id (letters, digits, `_`, `.`, `-`, starting with a letter or digit)"
                            ),
                        ));
                    }
                    if names.contains(&n) {
                        return Err(c.err(span, &s.key, format!("{n:?} is listed twice")));
                    }
                    names.push(n);
                }
                if names.is_empty() {
                    return Err(c.err(
                        s.span.clone(),
                        &s.key,
                        "empty: name the containers to enable (or leave out [enable])",
                    ));
                }
                containers = Some(names);
            }
            "every" => {
                let v = s.string(c)?;
                e.every = Some(
                    crate::units::parse_every(&v).map_err(|m| c.err(s.span.clone(), &s.key, m))?,
                );
            }
            "keep" => {
                let Some(n) = s.item.as_integer() else {
                    return Err(c.err(
                        s.span.clone(),
                        &s.key,
                        format!("expected an integer, got {}", kind_of(s.item)),
                    ));
                };
                // enable's own --keep parser decides (its range).
                let argv = ["dockpoint", "enable", "--keep", &n.to_string(), "--", "x"];
                match Cli::try_parse_from(argv) {
                    Ok(Cli {
                        command: Command::Enable(a),
                    }) => e.keep = Some(a.keep),
                    Ok(_) => unreachable!("an enable command line"),
                    Err(err) => return Err(c.err(s.span.clone(), &s.key, clap_message(&err))),
                }
            }
            "on-shutdown" => e.on_shutdown = s.bool(c)?,
            "tcp-close" => e.tcp_close = Some(s.bool(c)?),
            other => return Err(c.err(key_span, &s.key, unknown(other, ENABLE_KEYS))),
        }
    }
    e.containers = containers.ok_or_else(|| {
        c.err(
            g.span.clone(),
            "enable.containers",
            "missing: [enable] needs containers = [\"NAME\", ...]",
        )
    })?;
    // The whole command line through enable's own parser, once.
    e.args(&e.containers[0], false, false)
        .map_err(|m| c.err(g.span.clone(), "enable", m))?;
    Ok(e)
}

/// What a setup run does once the file and the flags are merged.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The flags with the file's answers filled in where no flag was given.
    pub args: SetupArgs,
    pub restart: Restart,
    /// The final doctor run's `--skip`.
    pub skip: Vec<String>,
    pub enable: Option<Enable>,
}

/// Flags override the file: a given flag wins (a switch such as `--yes`
/// can only turn a choice on; a repeatable `--criu-option` replaces the
/// file's list; `--criu-source` drops the file's `remove-criu-source` and
/// `--remove-criu-source` the file's `criu-source`). Pure.
pub fn resolve(given: &SetupArgs, file: Option<&Answers>) -> Resolved {
    let empty = Answers::default();
    let f = file.unwrap_or(&empty);
    let mut args = given.clone();
    args.yes |= f.yes == Some(true);
    args.format = given.format.or(f.format);
    args.no_install |= f.no_install == Some(true);
    let restart = if given.no_restart {
        Restart::Never
    } else {
        f.restart_choice().unwrap_or_default()
    };
    args.no_restart = restart == Restart::Never;
    if given.criu_option.is_empty() {
        args.criu_option = f.criu_options.clone().unwrap_or_default();
    }
    if given.criu_source.is_none() && !given.remove_criu_source {
        args.criu_source = f.criu_source.clone();
        args.remove_criu_source = f.remove_criu_source == Some(true);
    }
    args.criu_base = given.criu_base.clone().or(f.criu_base.clone());
    args.criu_key = given.criu_key.clone().or(f.criu_key.clone());
    args.repair |= f.repair == Some(true);
    Resolved {
        args,
        restart,
        skip: f.skip.clone().unwrap_or_default(),
        enable: f.enable.clone(),
    }
}

/// The choices a run made, as `--save-config` writes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Choices {
    pub restart: Restart,
    pub no_install: bool,
    pub criu_options: Vec<String>,
    pub criu_source: Option<Vec<String>>,
    pub criu_base: Option<String>,
    pub criu_key: Option<String>,
    pub remove_criu_source: bool,
    pub repair: bool,
    pub skip: Vec<String>,
    pub enable: Option<Enable>,
}

impl Choices {
    /// From the final flags (the prompts' answers in them) and the steps
    /// the operator declined under "Review each step".
    pub fn from_run(r: &Resolved, flags: &Flags, declined: &[super::StepId]) -> Choices {
        use super::StepId;
        let criu_source = match (flags.criu_source, &flags.criu_url) {
            (CriuSource::Source(crate::criu_sources::Name::Url), Some(u)) => {
                let mut v = vec![u.uri.clone(), u.suite.clone()];
                v.extend(u.components.iter().cloned());
                Some(v)
            }
            (CriuSource::Source(n), _) => Some(vec![crate::criu_sources::row(n).flag.to_string()]),
            (CriuSource::Distro, _) if flags.install_anyway => Some(vec!["distro".into()]),
            (CriuSource::Distro, _) => None,
        };
        Choices {
            restart: if declined.contains(&StepId::DockerRestart) {
                Restart::Never
            } else {
                r.restart
            },
            no_install: flags.no_install || declined.contains(&StepId::CriuInstall),
            criu_options: flags
                .criu_options
                .iter()
                .map(|o| match &o.value {
                    None => o.name.clone(),
                    Some(v) => format!("{} {v}", o.name),
                })
                .collect(),
            criu_source,
            criu_base: flags.criu_base.clone(),
            criu_key: flags.criu_key.clone(),
            remove_criu_source: flags.remove_sources,
            repair: flags.repair_runc || flags.repair_daemon,
            skip: r.skip.clone(),
            enable: r.enable.clone(),
        }
    }
}

/// Ask once (`ask`: setup's own menu) whether to apply the plan. With
/// `restart = "always"` the docker restart is held aside while the operator
/// answers, so "Review each step" does not ask about it; it is put back
/// before this returns. Returns whether to go on, and the steps the
/// operator declined (for `--save-config`).
pub fn confirm(
    steps: &mut [super::PlannedStep],
    restart: Restart,
    ask: impl FnOnce(&mut [super::PlannedStep]) -> bool,
) -> (bool, Vec<super::StepId>) {
    use super::StepId;
    let held = if restart == Restart::Always {
        steps
            .iter_mut()
            .find(|s| s.id == StepId::DockerRestart)
            .and_then(|s| s.action.take())
    } else {
        None
    };
    let had: Vec<StepId> = steps
        .iter()
        .filter(|s| s.action.is_some())
        .map(|s| s.id)
        .collect();
    let go = ask(steps);
    let declined = steps
        .iter()
        .filter(|s| had.contains(&s.id) && s.action.is_none())
        .map(|s| s.id)
        .collect();
    // Back in the plan (a cancel then skips it with the others).
    if let Some(a) = held {
        for s in steps.iter_mut().filter(|s| s.id == StepId::DockerRestart) {
            s.action = Some(a.clone());
        }
    }
    (go, declined)
}

/// The first lines of a new answers file.
const HEADER: &str = "# dockpoint setup answers: dockpoint setup --config FILE (flags override it).\n# Written by dockpoint setup --save-config; edit freely: comments and order are kept.\n";

/// Set `key` to `v` in `t`, keeping the old value's comments and spacing.
fn set(t: &mut dyn TableLike, key: &str, mut v: Value) {
    match t.get_mut(key) {
        Some(Item::Value(old)) => {
            *v.decor_mut() = old.decor().clone();
            *old = v;
        }
        Some(other) => *other = Item::Value(v),
        None => {
            t.insert(key, Item::Value(v));
        }
    }
}

fn strings(v: &[String]) -> Value {
    Value::Array(Array::from_iter(v.iter().map(String::as_str)))
}

/// The same runc.conf options, in any order and spelling.
fn same_options(a: Option<&Vec<String>>, b: &[String]) -> bool {
    let set = |v: &[String]| {
        runc_conf::parse_all(v).ok().map(|mut o| {
            o.sort_by(|x, y| x.name.cmp(&y.name));
            o
        })
    };
    a.is_some_and(|a| set(a) == set(b))
}

fn same_source(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => criu_source_from(Some(a)).ok() == criu_source_from(Some(b)).ok(),
        _ => false,
    }
}

/// The answers file with these choices: `old` (None: a new file) updated
/// in place, every key whose value already means the choice left as it is
/// (so a second save of the same choices changes no byte), the others
/// replaced with their comments kept, missing ones added. An `old` that is
/// not a valid answers file is an error (nothing is written). Pure.
pub fn save(old: Option<&str>, file: &str, c: &Choices) -> Result<String, ConfigError> {
    let before = match old {
        Some(t) => parse(t, file)?,
        None => Answers::default(),
    };
    let mut doc: DocumentMut = match old {
        Some(t) => t.parse().map_err(|e: toml_edit::TomlError| ConfigError {
            file: file.to_string(),
            line: None,
            key: None,
            message: e.message().to_string(),
        })?,
        None => DocumentMut::new(),
    };
    let root = doc.as_table_mut();
    // restart: kept in `no-restart` where the file says it that way.
    if let Some(n) = before.no_restart {
        let want = c.restart == Restart::Never;
        if n != want {
            set(root, "no-restart", Value::from(want));
        }
    }
    let by_no_restart = before.no_restart.is_some() && c.restart != Restart::Always;
    if (before.restart.is_some() || !by_no_restart) && before.restart != Some(c.restart) {
        set(root, "restart", Value::from(c.restart.as_str()));
    }
    if before.no_install != Some(c.no_install) {
        set(root, "no-install", Value::from(c.no_install));
    }
    if !same_options(before.criu_options.as_ref(), &c.criu_options) {
        set(root, "criu-options", strings(&c.criu_options));
    }
    if !same_source(before.criu_source.as_ref(), c.criu_source.as_ref()) {
        match &c.criu_source {
            None => {
                root.remove("criu-source");
            }
            Some(v) if v.len() == 1 => set(root, "criu-source", Value::from(v[0].as_str())),
            Some(v) => set(root, "criu-source", strings(v)),
        }
    }
    for (key, was, want) in [
        ("criu-base", &before.criu_base, &c.criu_base),
        ("criu-key", &before.criu_key, &c.criu_key),
    ] {
        if was != want {
            match want {
                None => {
                    root.remove(key);
                }
                Some(s) => set(root, key, Value::from(s.as_str())),
            }
        }
    }
    if (c.remove_criu_source || before.remove_criu_source.is_some())
        && before.remove_criu_source != Some(c.remove_criu_source)
    {
        set(
            root,
            "remove-criu-source",
            Value::from(c.remove_criu_source),
        );
    }
    if before.repair != Some(c.repair) {
        set(root, "repair", Value::from(c.repair));
    }
    if (!c.skip.is_empty() || before.skip.is_some())
        && before.skip.as_deref().unwrap_or_default() != c.skip.as_slice()
    {
        set(root, "skip", strings(&c.skip));
    }
    match (&before.enable, &c.enable) {
        (None, None) => {}
        (Some(_), None) => {
            root.remove("enable");
        }
        (was, Some(want)) => {
            if root.get("enable").and_then(Item::as_table_like).is_none() {
                root.insert("enable", Item::Table(Table::new()));
            }
            let was = was.clone().unwrap_or_default();
            let t = root
                .get_mut("enable")
                .and_then(Item::as_table_like_mut)
                .expect("a table was just put there");
            if was.containers != want.containers {
                set(t, "containers", strings(&want.containers));
            }
            if was.every != want.every {
                match &want.every {
                    None => {
                        t.remove("every");
                    }
                    Some(e) => set(t, "every", Value::from(e.as_str())),
                }
            }
            if was.keep != want.keep {
                match want.keep {
                    None => {
                        t.remove("keep");
                    }
                    Some(k) => set(t, "keep", Value::from(i64::from(k))),
                }
            }
            if was.on_shutdown != want.on_shutdown {
                set(t, "on-shutdown", Value::from(want.on_shutdown));
            }
            if was.tcp_close != want.tcp_close {
                match want.tcp_close {
                    None => {
                        t.remove("tcp-close");
                    }
                    Some(b) => set(t, "tcp-close", Value::from(b)),
                }
            }
        }
    }
    let text = doc.to_string();
    Ok(match old {
        None => format!("{HEADER}{text}"),
        Some(_) => text,
    })
}

/// The file `--save-config` writes, read before anything is done.
#[derive(Debug, Clone)]
pub struct SaveTarget {
    /// The absolute path.
    pub path: String,
    /// Its bytes now (None: it does not exist yet).
    pub old: Option<String>,
}

/// The merged answers, and where they are saved.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub resolved: Resolved,
    pub config: Option<String>,
    pub save: Option<SaveTarget>,
}

fn absolute(p: &std::path::Path, what: &str) -> Result<String, String> {
    let abs = std::path::absolute(p).map_err(|e| format!("{what} {}: {e}", p.display()))?;
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} {}: not a UTF-8 path", p.display()))
}

/// The answers host: the machine dockpoint runs on (never `--root DIR`).
fn operator_host() -> Result<Host, String> {
    Host::new(None, Box::new(SystemRunner), Term::plain()).map_err(|e| format!("{e:#}"))
}

/// Read `--config` and the existing `--save-config` file, check both, and
/// merge the flags over the file. Any error is a usage error (exit 2),
/// before anything is read from or done to the host.
pub fn prepare(given: &SetupArgs) -> Result<Prepared, String> {
    let need = given.config.is_some() || given.save_config.is_some();
    let host = if need { Some(operator_host()?) } else { None };
    let read = |p: &std::path::Path, what: &str| -> Result<(String, Option<String>), String> {
        let abs = absolute(p, what)?;
        let host = host.as_ref().expect("opened when a file is named");
        let text = host
            .fs
            .read_text(&abs)
            .map_err(|e| format!("{what} {abs}: {e:#}"))?;
        Ok((abs, text))
    };
    let mut config = None;
    let answers = match &given.config {
        None => None,
        Some(p) => {
            let (abs, text) = read(p, "--config")?;
            let text = text.ok_or_else(|| format!("--config {abs}: no such file"))?;
            let a = parse(&text, &abs).map_err(|e| e.to_string())?;
            config = Some(abs);
            Some(a)
        }
    };
    let save = match &given.save_config {
        None => None,
        Some(p) => {
            let (abs, old) = read(p, "--save-config")?;
            if let Some(t) = &old {
                // Checked now: a file that cannot be updated stops the run
                // before anything is changed.
                parse(t, &abs).map_err(|e| format!("--save-config: {e}"))?;
            }
            Some(SaveTarget { path: abs, old })
        }
    };
    Ok(Prepared {
        resolved: resolve(given, answers.as_ref()),
        config,
        save,
    })
}

/// What `--save-config` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Saved {
    pub path: String,
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// Write the choices to the `--save-config` file through the safe write
/// (nothing when the file already says exactly this).
pub fn write_saved(t: &SaveTarget, c: &Choices) -> Result<Saved, String> {
    let new = save(t.old.as_deref(), &t.path, c).map_err(|e| e.to_string())?;
    if t.old.as_deref() == Some(new.as_str()) {
        return Ok(Saved {
            path: t.path.clone(),
            changed: false,
            backup: None,
        });
    }
    let host = operator_host()?;
    let no_check = |_: &str, _: &[u8]| Ok(());
    let done = fsio::write_file(
        &host,
        &t.path,
        t.old.as_ref().map(String::as_bytes),
        new.as_bytes(),
        &no_check,
    )
    .map_err(|e| format!("--save-config {}: {e:#}", t.path))?;
    Ok(Saved {
        path: done.host_path,
        changed: true,
        backup: done.backup,
    })
}

/// One `[enable]` container's outcome, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnableRun {
    pub container: String,
    /// `skipped` (a dry run, `--root`), or enable's own status.
    pub status: String,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// enable's JSON report (with `--format json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    #[serde(skip)]
    pub exit: Exit,
}

/// What would be run, without running it (a dry run, `--root`).
pub fn enable_skipped(e: &Enable, yes: bool, why: &str) -> Vec<EnableRun> {
    e.containers
        .iter()
        .map(|c| EnableRun {
            container: c.clone(),
            status: "skipped".into(),
            command: e.command(c, yes),
            message: Some(why.to_string()),
            report: None,
            exit: Exit::Ok,
        })
        .collect()
}

/// Run `dockpoint enable` for each container, through enable's own entry
/// point. With JSON, enable's report is taken off stdout (stdout carries
/// setup's one object) and put into setup's.
pub fn run_enables(e: &Enable, yes: bool, json: bool) -> Vec<EnableRun> {
    let mut out = Vec::new();
    for c in &e.containers {
        let command = e.command(c, yes);
        let args = match e.args(c, yes, json) {
            Ok(a) => a,
            Err(m) => {
                out.push(EnableRun {
                    container: c.clone(),
                    status: "failed".into(),
                    command,
                    message: Some(m),
                    report: None,
                    exit: Exit::Failed,
                });
                continue;
            }
        };
        if !json {
            ui::println(&format!("\n$ {command}"));
            let exit = crate::enable::run_enable(&args);
            out.push(EnableRun {
                container: c.clone(),
                status: if exit == Exit::Ok { "ok" } else { "failed" }.into(),
                command,
                message: None,
                report: None,
                exit,
            });
            continue;
        }
        let (exit, report) = match crate::enable::enable_report(&args) {
            Ok((exit, report)) => (exit, Some(report)),
            Err(exit) => (exit, None),
        };
        let status = report
            .as_ref()
            .and_then(|r| r["status"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| if exit == Exit::Ok { "ok" } else { "failed" }.into());
        out.push(EnableRun {
            container: c.clone(),
            status,
            command,
            message: report
                .is_none()
                .then(|| "enable could not start (see stderr)".to_string()),
            report,
            exit,
        });
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
