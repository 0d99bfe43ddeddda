//! `dockpoint status [CONTAINER]`: for each container `dockpoint enable`
//! set up, its units (enabled, active), its checkpoints (age, size, and
//! whether each can be restored here or why not, by the restore's own
//! gates), and what the last boot did (restored from NAME / cold-started
//! because ...).

use crate::cli::{Format, StatusArgs};
use crate::exit::Exit;
use crate::host::{Cmd, Host, Term};
use crate::observe::Observer;
use crate::restore::{self, Outcome};
use crate::ui;
use crate::units::{self, RESTORE, SHUTDOWN, TIMER, UNIT_DIR};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Unit {
    pub name: String,
    /// `enabled`, `disabled`, `not-found`...
    pub enabled: String,
    /// `active`, `inactive`, `failed`...
    pub active: String,
}

#[derive(Debug, Serialize)]
pub struct CheckpointState {
    pub name: String,
    pub created: Option<String>,
    pub age_s: Option<i64>,
    pub size_bytes: Option<u64>,
    pub restorable: bool,
    /// Why not, by the restore's gates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ContainerStatus {
    pub container: String,
    pub units: Vec<Unit>,
    pub checkpoints: Vec<CheckpointState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints_error: Option<String>,
    /// What the last unattended restore did.
    pub last_boot: Option<Outcome>,
}

#[derive(Debug, Serialize)]
struct Report {
    format_version: u32,
    containers: Vec<ContainerStatus>,
}

/// The containers with an enabled restore unit (their instance names,
/// unescaped).
pub fn enabled(host: &Host) -> Vec<String> {
    let prefix = RESTORE.file.split('@').next().unwrap_or_default();
    let mut out: Vec<String> = host
        .fs
        .read_dir(&format!("{UNIT_DIR}/multi-user.target.wants"))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix(&format!("{prefix}@"))
                .and_then(|r| r.strip_suffix(".service"))
                .map(unescape)
        })
        .collect();
    out.sort();
    out
}

/// The inverse of [`units::escape`].
pub fn unescape(s: &str) -> String {
    let mut bytes = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(v);
            i += 4;
            continue;
        }
        bytes.push(if b[i] == b'-' { b'/' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn unit_states(host: &Host, names: &[String]) -> Vec<Unit> {
    let mut args = vec![
        "show",
        "-p",
        "Id",
        "-p",
        "UnitFileState",
        "-p",
        "ActiveState",
    ];
    args.extend(names.iter().map(String::as_str));
    let out = host
        .run(&Cmd::new("systemctl", &args))
        .map(|o| o.stdout)
        .unwrap_or_default();
    // One block per unit, separated by blank lines, in the order asked.
    let blocks: Vec<&str> = out.split("\n\n").collect();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let block = blocks.get(i).copied().unwrap_or_default();
            let field = |k: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .filter(|v| !v.is_empty())
                    .unwrap_or("not-found")
                    .to_string()
            };
            Unit {
                name: n.clone(),
                enabled: field("UnitFileState"),
                active: field("ActiveState"),
            }
        })
        .collect()
}

fn one(obs: &Observer, c: &str, now: i64) -> ContainerStatus {
    let esc = units::escape(c);
    let names: Vec<String> = [&RESTORE, &TIMER, &SHUTDOWN]
        .iter()
        .map(|t| units::instance(t, &esc))
        .collect();
    let units = unit_states(&obs.host, &names);
    let flags = restore::Flags {
        name: None,
        yes: true,
        interactive: false,
        usable_only: true,
    };
    let facts = restore::observe(obs, c, &flags);
    let (checkpoints, checkpoints_error) = match &facts.checkpoints {
        Ok(list) => (
            list.iter()
                .map(|cp| {
                    let why: Vec<String> = restore::candidate_gates(&facts, cp)
                        .into_iter()
                        .filter(|g| {
                            matches!(
                                g.status,
                                crate::doctor::Status::Fail | crate::doctor::Status::Error
                            )
                        })
                        .map(|g| {
                            let mut l = format!("{}: {}", g.id, g.message);
                            if !g.details.is_empty() {
                                l.push_str(&format!(" ({})", g.details.join("; ")));
                            }
                            l
                        })
                        .collect();
                    let secs = cp.entry.mtime.div_euclid(1_000_000_000);
                    CheckpointState {
                        name: cp.entry.name.clone(),
                        created: cp.entry.created.clone(),
                        age_s: (cp.entry.mtime > 0).then(|| now - secs),
                        size_bytes: cp.entry.size_bytes,
                        restorable: why.is_empty(),
                        why_not: (!why.is_empty()).then(|| why.join("; ")),
                    }
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.clone())),
    };
    let last_boot = obs
        .host
        .fs
        .read(&restore::outcome_path(c), 1 << 20)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    ContainerStatus {
        container: c.to_string(),
        units,
        checkpoints,
        checkpoints_error,
        last_boot,
    }
}

/// `dockpoint status`.
pub fn run(args: &StatusArgs) -> Exit {
    let obs = match Observer::live(Term::detect()) {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let names = match &args.container {
        Some(c) => vec![c.clone()],
        None => enabled(&obs.host),
    };
    let now = jiff::Timestamp::now().as_second();
    let containers: Vec<ContainerStatus> = names.iter().map(|c| one(&obs, c, now)).collect();
    let failed = containers.iter().any(|c| c.checkpoints_error.is_some());
    if args.format == Format::Json {
        ui::print_json(&Report {
            format_version: 1,
            containers,
        });
    } else {
        if containers.is_empty() {
            ui::println("no container is enabled (dockpoint enable CONTAINER)");
        }
        for c in &containers {
            print_human(c);
        }
    }
    ui::finish(if failed { Exit::Failed } else { Exit::Ok })
}

fn age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

fn print_human(c: &ContainerStatus) {
    ui::println(&format!("{}:", c.container));
    // Units of jobs that were not asked for (no --every, no --on-shutdown)
    // are not shown.
    for u in c.units.iter().filter(|u| u.enabled != "not-found") {
        ui::println(&format!("  {:<44} {:<9} {}", u.name, u.enabled, u.active));
    }
    if let Some(e) = &c.checkpoints_error {
        ui::println(&format!("  checkpoints: {e}"));
    }
    if c.checkpoints.is_empty() && c.checkpoints_error.is_none() {
        ui::println("  no checkpoint");
    }
    for cp in &c.checkpoints {
        ui::println(&format!(
            "  {} {:<24} {:>8} old  {:>10}  {}",
            if cp.restorable { "✓" } else { "✗" },
            cp.name,
            cp.age_s.map(age).unwrap_or_else(|| "?".into()),
            cp.size_bytes
                .map(crate::container::human_bytes)
                .unwrap_or_else(|| "?".into()),
            cp.why_not.as_deref().unwrap_or("restorable here")
        ));
    }
    match &c.last_boot {
        Some(o) => ui::println(&format!(
            "  last boot ({}): {} ({} ms)",
            o.time, o.message, o.duration_ms
        )),
        None => ui::println("  last boot: no unattended restore has run yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_unescape_to_the_container_names() {
        for name in ["bela", "my-app", "a.b_c", ".x", "a b"] {
            assert_eq!(unescape(&units::escape(name)), name);
        }
    }
}
