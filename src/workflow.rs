//! What `checkpoint`, `restore` and `checkpoints` share: the record kept
//! beside each checkpoint and where it lives, docker's naming rule, the
//! preflight's verdict, where containerd keeps a task's CRIU files, and the
//! check of the files CRIU size-checks (from a checkpoint's `files.img`,
//! against the files on this host now), the operator's consent to warnings,
//! kept CRIU logs, and the human report's preflight and diagnoses.

use crate::criu_image::RegFile;
use crate::docker::api::ContainerInspect;
use crate::doctor::{CheckResult, Status};
use crate::host::Host;
use serde::Serialize;

/// Where dockpoint records what a checkpoint was made with.
pub const RECORDS: &str = "/var/lib/dockpoint/checkpoints";

/// docker's rule for checkpoint names (one path component since moby#53377).
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.len() >= 2 && docker_name_chars(name) {
        Ok(())
    } else {
        Err(format!(
            "checkpoint name {name:?}: use letters, digits, `_`, `.` and `-`, starting with a letter or digit, at least 2 characters (docker's rule)"
        ))
    }
}

/// The CRIU log docker's error names (`path= .../criu-dump.log`).
pub fn named_log(message: &str) -> Option<String> {
    let at = message.find("path=")?;
    let rest = message[at + 5..].trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ':')
        .unwrap_or(rest.len());
    let p = &rest[..end];
    (p.starts_with('/') && p.ends_with(".log")).then(|| p.to_string())
}

/// What the preflight decided: pure, from the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Go, but these warnings say what makes it unrestorable later.
    Warn(Vec<String>),
    /// Do not call docker.
    Refuse(Vec<String>),
}

pub fn verdict(checks: &[CheckResult]) -> Verdict {
    let line = |c: &CheckResult| {
        let mut details: Vec<&str> = c.details.iter().map(String::as_str).take(5).collect();
        if c.details.len() > 5 {
            details.push("...");
        }
        format!(
            "{}: {}{}{}",
            c.id,
            c.message,
            if details.is_empty() {
                String::new()
            } else {
                format!(": {}", details.join("; "))
            },
            c.fix
                .as_deref()
                .map(|f| format!(" (fix: {f})"))
                .unwrap_or_default()
        )
    };
    let refuse: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error))
        .map(|c| match c.status {
            Status::Error => format!("{}: could not check: {}", c.id, c.message),
            _ => line(c),
        })
        .collect();
    if !refuse.is_empty() {
        return Verdict::Refuse(refuse);
    }
    let warn: Vec<String> = checks
        .iter()
        .filter(|c| c.status == Status::Warn)
        .map(line)
        .collect();
    if warn.is_empty() {
        Verdict::Go
    } else {
        Verdict::Warn(warn)
    }
}

/// Docker's characters for a container or checkpoint name: a letter or
/// digit, then letters, digits, `_`, `.` and `-`.
pub fn docker_name_chars(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The facts a later restore compares with (recorded beside the checkpoint).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Record {
    pub format_version: u32,
    pub container_id: String,
    pub container: String,
    pub checkpoint: String,
    pub created: String,
    pub kernel: Option<String>,
    pub criu: Option<String>,
    pub docker: Option<String>,
    pub leave_running: bool,
    /// Files open for writing at the checkpoint, with their size then.
    pub open_files: Vec<(String, Option<u64>)>,
    pub size_bytes: Option<u64>,
    /// The container's image (`Image`, sha256:...).
    #[serde(default)]
    pub image: Option<String>,
    /// containerd's and runc's versions (docker's `/version` components).
    #[serde(default)]
    pub containerd: Option<String>,
    #[serde(default)]
    pub runc: Option<String>,
    /// Where `criu cpuinfo dump` described this CPU (checked before a
    /// restore with `criu cpuinfo check`).
    #[serde(default)]
    pub cpuinfo: Option<String>,
    /// Whether /etc/criu/runc.conf set tcp-close at the checkpoint: CRIU
    /// then restores it only with tcp-close set again.
    #[serde(default)]
    pub tcp_close: bool,
}

/// Whether /etc/criu/runc.conf sets tcp-close now (`None`: it could not be
/// read or does not parse; CRIU reads no such file as empty).
pub fn tcp_close_set(host: &crate::host::Host) -> Option<bool> {
    match host.fs.read_text(crate::observe::RUNC_CONF) {
        Ok(None) => Some(false),
        Ok(Some(t)) => crate::runc_conf::flag_on(&t, "tcp-close"),
        Err(_) => None,
    }
}

/// Paths CRIU never size-checks in a way dockpoint can see from outside.
const PSEUDO: &[&str] = &["/proc/", "/sys/", "/dev/"];

/// Where containerd keeps a task's work directory (restore.log and
/// stats-restore), under its root.
pub fn task_dir(containerd_root: &str, id: &str) -> String {
    format!(
        "{}/io.containerd.runtime.v2.task/moby/{id}",
        containerd_root.trim_end_matches('/')
    )
}

/// Where dockpoint keeps the CPU description of a checkpoint
/// (`criu cpuinfo dump`).
pub fn cpuinfo_dir(id: &str, name: &str) -> String {
    format!("{RECORDS}/{id}/{name}.cpu")
}

/// One file CRIU will insist on, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNow {
    pub name: String,
    /// The size the checkpoint recorded.
    pub expect: u64,
    /// Where it was looked for on this host.
    pub host_path: Option<String>,
    pub now: Now,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Now {
    Size(u64),
    /// Not in any layer or volume.
    Absent,
    /// Could not tell (no overlay directories, a pseudo file system).
    Unknown(String),
}

/// Where a path of the container is on this host while docker does not run
/// it: in a volume or bind mount, docker's own files, or the overlay layers
/// (upper first). Pure.
pub fn host_candidates(path: &str, i: &ContainerInspect, docker_root: &str) -> Vec<String> {
    let under = |dest: &str| -> Option<String> {
        let dest = dest.trim_end_matches('/');
        if path == dest {
            Some(String::new())
        } else {
            path.strip_prefix(dest)
                .filter(|r| r.starts_with('/'))
                .map(str::to_owned)
        }
    };
    if let Some((m, rest)) = i
        .mounts
        .iter()
        .filter_map(|m| under(&m.destination).map(|r| (m, r)))
        .max_by_key(|(m, _)| m.destination.trim_end_matches('/').len())
    {
        return vec![format!("{}{rest}", m.source.trim_end_matches('/'))];
    }
    let own = match path {
        "/etc/hosts" => Some("hosts"),
        "/etc/hostname" => Some("hostname"),
        "/etc/resolv.conf" => Some("resolv.conf"),
        _ => None,
    };
    if let Some(f) = own {
        return vec![format!(
            "{}/containers/{}/{f}",
            docker_root.trim_end_matches('/'),
            i.id
        )];
    }
    let data = &i.graph_driver.data;
    let mut out = Vec::new();
    if let Some(up) = data.get("UpperDir") {
        out.push(format!("{}{path}", up.trim_end_matches('/')));
    }
    if let Some(lower) = data.get("LowerDir") {
        for l in lower.split(':').filter(|l| !l.is_empty()) {
            out.push(format!("{}{path}", l.trim_end_matches('/')));
        }
    }
    out
}

/// The size now of every file CRIU recorded a size for.
pub fn files_now(host: &Host, files: &[RegFile], i: &ContainerInspect, root: &str) -> Vec<FileNow> {
    let overlay = i.graph_driver.data.contains_key("UpperDir");
    let mut seen = std::collections::BTreeSet::new();
    files
        .iter()
        .filter(|f| f.is_regular() && !f.name.ends_with(" (deleted)"))
        .filter_map(|f| f.size.map(|s| (f, s)))
        .filter(|(f, _)| seen.insert(f.name.clone()))
        .map(|(f, expect)| {
            let mut out = FileNow {
                name: f.name.clone(),
                expect,
                host_path: None,
                now: Now::Absent,
            };
            if PSEUDO.iter().any(|p| f.name.starts_with(p)) {
                out.now = Now::Unknown("a pseudo file system".into());
                return out;
            }
            let cands = host_candidates(&f.name, i, root);
            let in_mount = i.mounts.iter().any(|m| {
                let d = m.destination.trim_end_matches('/');
                f.name == d || f.name.starts_with(&format!("{d}/"))
            });
            for c in &cands {
                if let Some(st) = host.fs.stat(c) {
                    out.host_path = Some(c.clone());
                    // An overlay whiteout: deleted in the container.
                    let whiteout = st.st_mode & libc_ifmt() == 0o020000 && st.st_rdev == 0;
                    out.now = if whiteout {
                        Now::Absent
                    } else {
                        Now::Size(st.st_size as u64)
                    };
                    return out;
                }
            }
            if cands.is_empty() || (!overlay && !in_mount) {
                out.now = Now::Unknown(format!(
                    "not found where docker keeps the container's files (storage driver {})",
                    if i.graph_driver.name.is_empty() {
                        "unknown"
                    } else {
                        &i.graph_driver.name
                    }
                ));
            }
            out
        })
        .collect()
}

const fn libc_ifmt() -> u32 {
    0o170000
}

/// The operator's consent to the preflight's warnings (printed first, unless
/// the report is JSON): `--yes`, or a yes at the terminal. Without a
/// terminal nobody can be asked, so the warnings stop the run. Err: why
/// nothing was done.
pub fn consent(
    warnings: &[String],
    json: bool,
    yes: bool,
    interactive: bool,
    prompt: &str,
) -> Result<(), String> {
    if !json {
        for w in warnings {
            crate::ui::eline(&format!("warning: {w}"));
        }
    }
    if yes {
        return Ok(());
    }
    if !interactive {
        return Err(format!(
            "refused: the preflight warns, and without a terminal only --yes goes ahead; nothing was done:\n  {}",
            warnings.join("\n  ")
        ));
    }
    if !crate::ui::ask_yes_no(prompt, false) {
        return Err("cancelled by the operator; nothing was done".into());
    }
    Ok(())
}

/// Keep a CRIU log under /var/log/dockpoint as
/// `CONTAINER-CHECKPOINT-BASE` (docker removes the original with the task).
pub fn keep_log(
    host: &Host,
    bytes: &[u8],
    container: &str,
    name: &str,
    base: &str,
) -> Result<String, String> {
    let safe: String = container
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let dest = format!("/var/log/dockpoint/{safe}-{name}-{base}");
    crate::fsio::write_state(host, &dest, bytes)
        .map(|_| dest)
        .map_err(|e| format!("the CRIU log could not be kept: {e:#}"))
}

/// The preflight's checks that did not pass, as the human report shows them.
pub fn print_problems(checks: &[CheckResult]) {
    for c in checks {
        if matches!(c.status, Status::Fail | Status::Error | Status::Warn) {
            crate::ui::println(&format!(
                "{} {:<27} {}",
                crate::doctor::symbol(c.status),
                c.id,
                c.message
            ));
            if let Some(f) = &c.fix {
                crate::ui::println(&format!("    fix: {f}"));
            }
            for d in &c.details {
                crate::ui::println(&format!("    {d}"));
            }
        }
    }
}

/// explain's diagnoses of a failure, as the human report shows them.
pub fn print_diagnoses(ds: &[crate::explain::Diagnosis]) {
    for d in ds {
        crate::ui::println(&format!("    {}: {}", d.id, d.title));
        crate::ui::println(&format!("      cause: {}", d.cause));
        for f in &d.fix {
            crate::ui::println(&format!("      fix: {f}"));
        }
    }
}

/// The doctor's checks `ids` for this host and `container`, with progress
/// (`VERB CONTAINER: preflight`).
pub fn preflight(
    obs: &std::sync::Arc<crate::observe::Observer>,
    ids: &[&str],
    verb: &str,
    container: &str,
) -> Vec<CheckResult> {
    let sel = crate::doctor::Selection {
        only: ids.iter().map(|s| s.to_string()).collect(),
        skip: Vec::new(),
        containers: vec![container.to_string()],
    };
    let progress =
        crate::progress::Progress::start(&obs.host.term, &format!("{verb} {container}: preflight"));
    let checks = crate::doctor::run_checks(obs.clone(), &sel, false).checks;
    progress.finish("done");
    checks
}
