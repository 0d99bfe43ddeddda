//! The doctor's checks, as a table: a stable dotted id, a title, a severity,
//! what the check needs (files only, a live host, root), and its run.

use super::{Ctx, Finding};
use crate::criu::{self, Version};
use crate::daemon_json;
use crate::docker::{Init, Kind};
use crate::host::Cmd;
use crate::observe::CriuCheck;
use crate::runc_conf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// What a check needs to run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Files under the root: runs under --root too.
    Files,
    /// The live system (processes, the docker API, commands).
    Live,
    /// The live system, as root.
    LiveRoot,
}

pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub needs: Needs,
    /// Only with --container: run once per container.
    pub per_container: bool,
    pub run: fn(&Ctx, Option<&str>) -> Finding,
}

use Needs::*;
use Severity::*;

pub const CHECKS: &[Check] = &[
    Check {
        id: "host.distro",
        title: "distribution",
        severity: Warning,
        needs: Files,
        per_container: false,
        run: host_distro,
    },
    Check {
        id: "host.kernel",
        title: "kernel",
        severity: Warning,
        needs: Live,
        per_container: false,
        run: host_kernel,
    },
    Check {
        id: "kernel.config",
        title: "kernel options for checkpoint/restore",
        severity: Error,
        needs: Live,
        per_container: false,
        run: kernel_config,
    },
    Check {
        id: "criu.installed",
        title: "CRIU installed",
        severity: Error,
        needs: Files,
        per_container: false,
        run: criu_installed,
    },
    Check {
        id: "criu.version",
        title: "CRIU version for this kernel",
        severity: Error,
        needs: Live,
        per_container: false,
        run: criu_version,
    },
    Check {
        id: "criu.check",
        title: "criu check",
        severity: Error,
        needs: LiveRoot,
        per_container: false,
        run: criu_check,
    },
    Check {
        id: "runc-conf.present",
        title: "/etc/criu/runc.conf exists",
        severity: Error,
        needs: Files,
        per_container: false,
        run: runc_present,
    },
    Check {
        id: "runc-conf.syntax",
        title: "runc.conf parses",
        severity: Error,
        needs: Files,
        per_container: false,
        run: runc_syntax,
    },
    Check {
        id: "runc-conf.tcp-established",
        title: "tcp-established in runc.conf",
        severity: Error,
        needs: Files,
        per_container: false,
        run: runc_tcp,
    },
    Check {
        id: "daemon-json.valid",
        title: "daemon.json is valid",
        severity: Error,
        needs: Files,
        per_container: false,
        run: daemon_valid,
    },
    Check {
        id: "daemon-json.experimental",
        title: "experimental configured",
        severity: Error,
        needs: Files,
        per_container: false,
        run: daemon_experimental,
    },
    Check {
        id: "daemon-json.flag-conflict",
        title: "no key both a flag and in daemon.json",
        severity: Error,
        needs: Live,
        per_container: false,
        run: daemon_flag_conflict,
    },
    Check {
        id: "docker.api",
        title: "docker answers",
        severity: Error,
        needs: Live,
        per_container: false,
        run: docker_api,
    },
    Check {
        id: "docker.experimental",
        title: "experimental on in the running docker",
        severity: Error,
        needs: Live,
        per_container: false,
        run: docker_experimental,
    },
    Check {
        id: "docker.kind",
        title: "a rootful Linux docker engine",
        severity: Error,
        needs: Live,
        per_container: false,
        run: docker_kind,
    },
    Check {
        id: "docker.version",
        title: "docker, containerd and runc versions",
        severity: Warning,
        needs: Live,
        per_container: false,
        run: docker_version,
    },
    Check {
        id: "docker.init",
        title: "init system managing docker",
        severity: Warning,
        needs: Live,
        per_container: false,
        run: docker_init,
    },
    Check {
        id: "container.running",
        title: "container running",
        severity: Error,
        needs: Live,
        per_container: true,
        run: container_running,
    },
    Check {
        id: "container.auto-remove",
        title: "container not started with --rm",
        severity: Error,
        needs: Live,
        per_container: true,
        run: container_auto_remove,
    },
    Check {
        id: "container.tty",
        title: "container without a terminal (-t)",
        severity: Error,
        needs: Live,
        per_container: true,
        run: container_tty,
    },
    Check {
        id: "container.restart-policy",
        title: "restart policy",
        severity: Warning,
        needs: Live,
        per_container: true,
        run: container_restart_policy,
    },
    Check {
        id: "container.sockets",
        title: "no bind-mounted sockets",
        severity: Warning,
        needs: Live,
        per_container: true,
        run: container_sockets,
    },
    Check {
        id: "container.processes",
        title: "the container's processes",
        severity: Warning,
        needs: LiveRoot,
        per_container: true,
        run: container_processes,
    },
    Check {
        id: "container.tcp",
        title: "TCP connections CRIU can dump",
        severity: Error,
        needs: LiveRoot,
        per_container: true,
        run: container_tcp,
    },
    Check {
        id: "container.deleted-files",
        title: "open deleted files within ghost-limit",
        severity: Error,
        needs: LiveRoot,
        per_container: true,
        run: container_deleted_files,
    },
    Check {
        id: "container.open-files",
        title: "no files open for writing (restorable later)",
        severity: Warning,
        needs: LiveRoot,
        per_container: true,
        run: container_open_files,
    },
    Check {
        id: "container.space",
        title: "room for the checkpoint",
        severity: Error,
        needs: LiveRoot,
        per_container: true,
        run: container_space,
    },
    Check {
        id: "container.network",
        title: "a network mode docker can restore",
        severity: Warning,
        needs: Live,
        per_container: true,
        run: container_network,
    },
    Check {
        id: "host.checkpoint-leftovers",
        title: "no leftover containerd checkpoint directories",
        severity: Warning,
        needs: LiveRoot,
        per_container: false,
        run: host_checkpoint_leftovers,
    },
    Check {
        id: "container.checkpoints",
        title: "existing checkpoints",
        severity: Warning,
        needs: Live,
        per_container: true,
        run: container_checkpoints,
    },
];

fn host_distro(c: &Ctx, _: Option<&str>) -> Finding {
    if let (None, Some(why)) = (&c.distro.source, &c.distro.refused) {
        return Finding::problem(
            format!("{why}: the distribution is unknown, so install instructions are generic"),
            "make /etc/os-release a regular file (or a link to /usr/lib/os-release), as the distribution ships it",
        );
    }
    if c.distro.source.is_none() {
        return Finding::problem(
            "no /etc/os-release or /usr/lib/os-release: the distribution is unknown, so install instructions are generic",
            "restore the distribution's os-release file (package base-files on Debian and Ubuntu)",
        );
    }
    Finding::pass(c.distro.describe())
}

/// How this host restarts docker so it reads daemon.json again.
fn restart_advice(c: &Ctx) -> String {
    if !c.host.live {
        return "docker reads it when the image boots".into();
    }
    match c.docker() {
        Some(d) if d.kind == Kind::Snap => "snap restart docker".into(),
        Some(d) => match d.restart_command() {
            Some(cmd) => cmd.join(" "),
            None => "restart dockerd the way it was started".into(),
        },
        None => "start docker".into(),
    }
}

/// How to reinstall CRIU on this distribution.
fn reinstall_criu(c: &Ctx) -> String {
    use crate::distro::Family;
    match c.distro.family {
        Family::Debian => "reinstall CRIU: apt-get install --reinstall criu".into(),
        Family::Fedora => format!(
            "reinstall CRIU: {} reinstall criu",
            c.distro.package_tool().unwrap_or("dnf")
        ),
        Family::Suse => "reinstall CRIU: zypper install --force criu".into(),
        Family::Arch => "reinstall CRIU: pacman -S criu".into(),
        Family::Alpine => "reinstall CRIU: apk fix criu".into(),
        Family::Other => {
            "reinstall CRIU the way it was installed (see https://criu.org/Installation)".into()
        }
    }
}

/// `dockpoint setup` as this host needs it (with `--root DIR` for an image).
fn setup_cmd(c: &Ctx, extra: &str) -> String {
    if c.host.live {
        format!("dockpoint setup{extra}")
    } else {
        format!(
            "dockpoint setup --root {}{extra}",
            c.host.fs.path().display()
        )
    }
}

/// What setup does about docker after daemon.json: only a live host with
/// docker installed restarts it.
fn restart_note(c: &Ctx) -> &'static str {
    if !c.host.live {
        "; docker reads it when the image boots"
    } else if c.docker().is_none() {
        "; docker is not installed: it reads the file when it first starts"
    } else {
        " and restarts docker"
    }
}

fn host_kernel(c: &Ctx, _: Option<&str>) -> Finding {
    match &c.kernel {
        Some(k) => Finding::pass(format!(
            "{} ({}); CRIU needed here: >= {}",
            k.release,
            k.arch,
            c.min_criu()
        )),
        None => Finding::cannot("uname failed"),
    }
}

/// Kernel options CRIU needs for docker containers.
const KERNEL_OPTIONS: &[(&str, &str)] = &[
    ("CONFIG_CHECKPOINT_RESTORE", "checkpoint/restore support"),
    ("CONFIG_UNIX_DIAG", "dumping unix sockets"),
    ("CONFIG_INET_DIAG", "dumping TCP/UDP sockets"),
    ("CONFIG_PACKET_DIAG", "dumping packet sockets"),
    ("CONFIG_NETLINK_DIAG", "dumping netlink sockets"),
];

fn kernel_config(c: &Ctx, _: Option<&str>) -> Finding {
    use std::io::Read;
    let release = c
        .kernel
        .as_ref()
        .map(|k| k.release.clone())
        .unwrap_or_default();
    let boot = format!("/boot/config-{release}");
    let text = if let Ok(Some(gz)) = c.host.fs.open_file("/proc/config.gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_string(&mut s)
            .ok()
            .map(|_| ("/proc/config.gz", s))
    } else {
        c.host.fs.read_quiet(&boot).map(|s| ("boot", s))
    };
    let Some((src, text)) = text else {
        return Finding::skip(format!(
            "no kernel config here (/proc/config.gz, {boot}); criu check tests the kernel instead"
        ));
    };
    let src = if src == "boot" { boot.as_str() } else { src };
    let missing: Vec<String> = KERNEL_OPTIONS
        .iter()
        .filter(|(opt, _)| {
            !text
                .lines()
                .any(|l| l == format!("{opt}=y") || l == format!("{opt}=m"))
        })
        .map(|(opt, why)| format!("{opt} ({why})"))
        .collect();
    if missing.is_empty() {
        Finding::pass(format!("all set in {src}")).detail(
            KERNEL_OPTIONS
                .iter()
                .map(|(o, _)| *o)
                .collect::<Vec<_>>()
                .join(", "),
        )
    } else {
        Finding::problem(
            format!("not set in {src}: {}", missing.join(", ")),
            "use a kernel built with these options (most distribution kernels have them)",
        )
    }
}

fn criu_installed(c: &Ctx, _: Option<&str>) -> Finding {
    match c.criu().map(|c| (c.path.clone(), c.version)) {
        Some((path, Some(v))) => Finding::pass(format!("CRIU {v} at {path}")),
        Some((path, None)) if !c.host.live => Finding::pass(format!("CRIU at {path}")),
        Some((path, None)) => Finding::problem(
            format!("{path} exists but `criu --version` does not run"),
            reinstall_criu(c),
        ),
        None => Finding::problem("CRIU is not installed", install_criu_fix(c)),
    }
}

/// How to get CRIU here, true for this host: setup installs it only where
/// it can (apt on a live Debian-family host, or apt through chroot in an
/// image, as root), and not when the operator said --no-install.
fn install_criu_fix(c: &Ctx) -> String {
    let apt = c.apt();
    let manual = criu::instructions(
        &c.distro,
        c.min_criu(),
        apt.and_then(|a| a.policy.candidate.as_deref()),
    );
    // On a live host dockpoint's own sources lead, as in setup's plan.
    let ours: Vec<String> = if c.host.live {
        source_offers(c)
            .iter()
            .map(|o| format!("  {:<52} # {}", o.command, o.note))
            .collect()
    } else {
        Vec::new()
    };
    let ways = if ours.is_empty() {
        manual
    } else {
        format!(
            "With dockpoint (each simulated first, pinned to CRIU's own packages, undone by --remove-criu-source):\n{}\n{manual}",
            ours.join("\n")
        )
    };
    // The distro's candidate must be able to do the job on this kernel:
    // setup does not install one the version policy refuses.
    let candidate_ok = |cand: &str| match (criu::Version::parse(cand), &c.kernel) {
        (Some(v), Some(k)) => criu::verdict(v, k.version, &k.arch).is_ok(),
        _ => true,
    };
    let setup_can = !c.no_install
        && c.is_root
        && apt.is_some_and(|a| c.host.live || a.chroot)
        && apt.is_some_and(|a| match &a.policy.candidate {
            Some(cand) => candidate_ok(cand),
            None => !a.lists,
        });
    if setup_can {
        let root = if c.host.live {
            String::new()
        } else {
            format!(" --root {}", c.host.fs.path().display())
        };
        format!("dockpoint setup{root} (installs CRIU with apt)")
    } else if !c.host.live {
        format!(
            "install CRIU in the image {} (dockpoint setup --root installs it only as root, with apt in the image, and not with --no-install):\n{ways}",
            c.host.fs.path().display()
        )
    } else {
        ways
    }
}

/// dockpoint's CRIU sources that can serve this host, best first (Debian
/// testing only where its CRIU fits the C library).
fn source_offers(c: &Ctx) -> Vec<crate::criu_sources::Offer> {
    let libc = crate::apt::installed_version(&c.host, "libc6");
    let mirror = crate::observe::debian_mirror(&c.host);
    let ctx = crate::criu_sources::Ctx {
        distro: Some(&c.distro),
        live: c.host.live,
        libc: libc.as_deref(),
        mirror: mirror.as_deref(),
        ..Default::default()
    };
    crate::criu_sources::offers(&ctx)
}

/// The ways to a newer CRIU that can serve this host (dockpoint's sources,
/// best first; Debian testing only where its CRIU fits the C library).
fn criu_fix(c: &Ctx) -> String {
    let offers = source_offers(c);
    if offers.is_empty() {
        return "install a newer CRIU: https://criu.org/Installation".into();
    }
    offers
        .iter()
        .map(|o| o.command.as_str())
        .collect::<Vec<_>>()
        .join("; or ")
}

fn criu_version(c: &Ctx, _: Option<&str>) -> Finding {
    let Some(v) = c.criu().and_then(|c| c.version) else {
        return Finding::skip("CRIU is not installed");
    };
    let Some(k) = &c.kernel else {
        return Finding::cannot("the kernel version is unknown");
    };
    match criu::verdict(v, k.version, &k.arch) {
        criu::Verdict::Ok => Finding::pass(format!(
            "CRIU {v} is new enough for kernel {} (needs >= {})",
            k.release,
            c.min_criu()
        )),
        verdict => Finding::problem(
            verdict.reason().unwrap_or_default().to_string(),
            criu_fix(c),
        ),
    }
}

fn criu_check(c: &Ctx, _: Option<&str>) -> Finding {
    let Some(cr) = c.criu() else {
        return Finding::skip("CRIU is not installed");
    };
    let ran = format!("ran: {} check", cr.path);
    match c.criu_check() {
        CriuCheck::Passed => Finding::pass("Looks good.").detail(ran),
        CriuCheck::Failed(err) => {
            Finding::problem(format!("criu check fails: {err}"), criu_check_fix(c, err)).detail(ran)
        }
        CriuCheck::NeedsRoot => Finding::skip("needs root: run dockpoint doctor as root"),
        CriuCheck::NotRun(why) => Finding::skip(why.clone()),
        CriuCheck::Error(e) => Finding::cannot(e.clone()),
    }
}

/// The fix for a failing `criu check`: explain's, when explain knows the
/// line (so the advice leads somewhere); else what to run to see more.
fn criu_check_fix(c: &Ctx, line: &str) -> String {
    let scanner = crate::explain::Scanner::new();
    let mut f = crate::explain::Findings::default();
    let _ = scanner.scan_reader(&mut line.as_bytes(), "input", &mut f);
    let known = !crate::explain::diagnose(&c.host, f, Vec::new(), Vec::new())
        .diagnoses
        .is_empty();
    if known {
        match shlex::try_quote(line) {
            Ok(q) => format!("dockpoint explain {q}"),
            Err(_) => format!("dockpoint explain '{}'", line.replace('\'', "")),
        }
    } else {
        "run `criu check --all -v4` as root for the full log; a failing check usually means the kernel lacks a feature CRIU needs (see https://criu.org/Checking_the_kernel)".into()
    }
}

/// runc.conf's text: Ok(None) when absent; an error (not a regular file,
/// too large, not UTF-8) names the file.
fn read_conf(c: &Ctx) -> Result<Option<String>, String> {
    c.host
        .fs
        .read_text(crate::observe::RUNC_CONF)
        .map_err(|e| format!("{e:#}"))
}

fn runc_present(c: &Ctx, _: Option<&str>) -> Finding {
    match read_conf(c) {
        Ok(Some(_)) => Finding::pass(crate::observe::RUNC_CONF),
        Err(e) => Finding::problem(
            format!("{e}: CRIU cannot read it either"),
            "make /etc/criu/runc.conf a regular text file of CRIU options (remove what is there, then run dockpoint setup)",
        ),
        Ok(None) => Finding::problem(
            "/etc/criu/runc.conf does not exist, so CRIU runs without tcp-established",
            format!(
                "{} (or: mkdir -p {} && echo tcp-established > {})",
                setup_cmd(c, ""),
                c.host.fs.display("/etc/criu"),
                c.host.fs.display(crate::observe::RUNC_CONF)
            ),
        ),
    }
}

fn runc_syntax(c: &Ctx, _: Option<&str>) -> Finding {
    let Ok(Some(text)) = read_conf(c) else {
        return Finding::skip("no readable runc.conf (see runc-conf.present)");
    };
    if let Err(e) = runc_conf::effective(&text, "tcp-established") {
        return Finding::problem(
            format!(
                "/etc/criu/runc.conf {e}: CRIU rejects the file and every checkpoint and restore fails"
            ),
            format!(
                "{} (or fix the line by hand; lint with criu --config {} -V)",
                setup_cmd(c, " --repair"),
                c.host.fs.display(crate::observe::RUNC_CONF)
            ),
        );
    }
    // Where CRIU runs, let it judge the file too.
    if let (
        true,
        Some(crate::observe::Criu {
            path,
            version: Some(v),
        }),
    ) = (c.host.live, c.criu())
    {
        let v = *v;
        let runs = c.kernel.as_ref().is_none_or(|k| {
            !matches!(
                criu::verdict(v, k.version, &k.arch),
                criu::Verdict::CannotRun(_)
            )
        });
        if runs {
            let cmd =
                Cmd::new(path, &["--config", crate::observe::RUNC_CONF, "-V"]).timeout(c.timeout);
            if let Ok(o) = c.host.run(&cmd)
                && !o.success()
            {
                return Finding::problem(
                    format!("CRIU rejects /etc/criu/runc.conf: {}", o.tail(2)),
                    "fix the line CRIU names, or dockpoint setup --repair",
                );
            }
            return Finding::pass("parses (and CRIU accepts it)")
                .detail(format!("ran: {}", cmd.line()));
        }
    }
    Finding::pass("parses")
}

fn runc_tcp(c: &Ctx, _: Option<&str>) -> Finding {
    let text = match read_conf(c) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Finding::problem(
                "no /etc/criu/runc.conf, so no tcp-established",
                setup_cmd(c, ""),
            );
        }
        Err(_) => return Finding::skip("runc.conf cannot be read (see runc-conf.present)"),
    };
    match runc_conf::effective(&text, "tcp-established") {
        Ok(Some(_)) => Finding::pass("tcp-established is on"),
        Ok(None) => Finding::problem(
            "no active tcp-established line: a container with established TCP connections fails with `criu failed: type NOTIFY errno 0`",
            format!("{} (adds the line; no restart needed)", setup_cmd(c, "")),
        ),
        Err(_) => Finding::skip("runc.conf does not parse (see runc-conf.syntax)"),
    }
}

fn daemon_path(c: &Ctx) -> String {
    c.docker()
        .map(|d| d.config_file.clone())
        .unwrap_or_else(|| crate::observe::DAEMON_JSON.into())
}

fn daemon_valid(c: &Ctx, _: Option<&str>) -> Finding {
    let path = daemon_path(c);
    match c.host.fs.read_text(&path) {
        Ok(None) => Finding::pass(format!("{path} is absent: dockerd uses its defaults")),
        Err(e) => Finding::problem(
            format!("{e:#}"),
            format!("make {path} a regular file of strict JSON (or remove it)"),
        ),
        Ok(Some(text)) => match daemon_json::experimental_value(&text) {
            Ok(_) => Finding::pass(format!("{path} is valid JSON")),
            Err(e) => Finding::problem(
                format!("{path} {e}: dockerd refuses to start with it"),
                format!(
                    "fix the line named (dockerd reads strict JSON), then {}",
                    restart_advice(c)
                ),
            ),
        },
    }
}

fn daemon_experimental(c: &Ctx, _: Option<&str>) -> Finding {
    if let Some(src) = c.docker().and_then(|d| d.experimental_flag.clone()) {
        return Finding::pass(format!("on through the --experimental flag ({src})"));
    }
    let path = daemon_path(c);
    let text = match c.host.fs.read_text(&path) {
        Ok(t) => t.unwrap_or_default(),
        Err(_) => return Finding::skip("daemon.json cannot be read (see daemon-json.valid)"),
    };
    match daemon_json::experimental_value(&text) {
        Ok(Some(serde_json::Value::Bool(true))) => {
            Finding::pass(format!("\"experimental\": true in {path}"))
        }
        Ok(Some(v)) => Finding::problem(
            format!("\"experimental\": {v} in {path}"),
            format!("{} (sets it to true{})", setup_cmd(c, ""), restart_note(c)),
        ),
        Ok(None) => Finding::problem(
            format!("experimental is not set in {path}"),
            format!(
                "{} (sets \"experimental\": true{})",
                setup_cmd(c, ""),
                restart_note(c)
            ),
        ),
        Err(_) => Finding::skip("daemon.json is not valid (see daemon-json.valid)"),
    }
}

fn daemon_flag_conflict(c: &Ctx, _: Option<&str>) -> Finding {
    let Some(d) = c.docker() else {
        return Finding::skip("docker is not installed");
    };
    let Some(src) = &d.experimental_flag else {
        return Finding::pass("experimental is not a dockerd flag");
    };
    let text = c.host.fs.read_quiet(&d.config_file).unwrap_or_default();
    match daemon_json::experimental_value(&text) {
        Ok(Some(_)) => Finding::problem(
            format!(
                "\"experimental\" is in {} and --experimental is a flag ({src}): dockerd refuses to start (`specified both as a flag and in the configuration file`)",
                d.config_file
            ),
            format!("remove \"experimental\" from {}", d.config_file),
        ),
        _ => Finding::pass(format!("--experimental only as a flag ({src})")),
    }
}

fn docker_api(c: &Ctx, _: Option<&str>) -> Finding {
    if let Some(e) = c.api().ok().and_then(|a| a.target_error()) {
        return Finding::problem(
            e.to_string(),
            "unset DOCKER_HOST (or set it to unix:///var/run/docker.sock) and run dockpoint on the docker host itself",
        );
    }
    let socket = c
        .api()
        .map(|a| a.socket.display().to_string())
        .unwrap_or_default();
    match c.version() {
        Ok(v) => Finding::pass(format!(
            "Docker {} (API {}) on {socket}",
            v["Version"].as_str().unwrap_or("?"),
            v["ApiVersion"].as_str().unwrap_or("?"),
        )),
        Err(e) if e.contains("Permission denied") => Finding::cannot(format!(
            "{e}: run as root, or as a member of the docker group"
        )),
        Err(e) if nothing_installed(c, &e) => {
            let mut f = Finding::problem(
                format!("docker is not installed (no dockerd running, no dockerd binary; {e})"),
                start_docker_fix(c),
            );
            for n in c.docker_notes() {
                f = f.detail(n);
            }
            f
        }
        Err(e) => {
            let mut f =
                Finding::problem(format!("docker does not answer: {e}"), start_docker_fix(c));
            for n in c.docker_notes() {
                f = f.detail(n);
            }
            f
        }
    }
}

/// No docker engine here: no dockerd runs or is installed in this host's
/// namespaces, and nothing listens on the API socket (an engine that
/// answers, or hangs, there is docker elsewhere: not "not installed").
fn nothing_installed(c: &Ctx, api_error: &str) -> bool {
    c.docker().is_none()
        && (api_error.contains("No such file or directory")
            || api_error.contains("Connection refused"))
}

/// How to start docker on this host: by its init system, or install it.
fn start_docker_fix(c: &Ctx) -> String {
    match c.docker().map(|d| (d.init, d.dockerd.is_some())) {
        None | Some((_, false)) => {
            "install docker engine (on Debian and Ubuntu: apt-get install docker.io), then dockpoint setup".into()
        }
        Some((Init::Systemd, _)) => {
            "start docker: systemctl start docker (then journalctl -u docker if it does not come up)"
                .into()
        }
        Some((Init::SysV, _)) => {
            "start docker: service docker start (then read /var/log/docker.log if it does not come up)"
                .into()
        }
        Some((Init::OpenRc, _)) => "start docker: rc-service docker start".into(),
        Some((Init::Unmanaged, _)) => {
            "start dockerd the way this host starts it (no init system manages it here)".into()
        }
    }
}

fn docker_experimental(c: &Ctx, _: Option<&str>) -> Finding {
    let api = match c.api() {
        Ok(a) => a,
        Err(e) => return Finding::skip(e),
    };
    match api.experimental() {
        Ok(true) => Finding::pass("Docker-Experimental: true"),
        Ok(false) => Finding::problem(
            "the running docker has experimental off (Docker-Experimental: false): `docker checkpoint` is refused",
            match c.docker().map(|d| d.init) {
                Some(Init::Unmanaged) => "dockpoint setup (sets it in daemon.json), then restart dockerd the way it was started; daemon-reload does not apply it".to_string(),
                _ => format!("{} (sets it and restarts docker); daemon-reload does not apply it", setup_cmd(c, "")),
            },
        ),
        Err(e) if nothing_installed(c, &format!("{e:#}")) => {
            Finding::skip("docker is not installed")
        }
        Err(e) => Finding::skip(format!("docker does not answer ({e:#})")),
    }
}

fn docker_kind(c: &Ctx, _: Option<&str>) -> Finding {
    if let Ok(v) = c.version() {
        let platform = v["Platform"]["Name"].as_str().unwrap_or_default();
        if platform.contains("Docker Desktop") {
            return Finding::problem(
                format!(
                    "{platform}: its engine runs in a VM without CRIU; docker checkpoint is not supported"
                ),
                "use a Linux host with docker engine",
            );
        }
    }
    match c.docker().map(|d| d.kind) {
        Some(Kind::Rootless) => Finding::problem(
            "rootless docker: CRIU needs privileges rootless docker does not have",
            "checkpoint with rootful docker",
        ),
        Some(Kind::Snap) => {
            Finding::pass("snap docker (daemon.json in /var/snap/docker/current/config)")
        }
        Some(Kind::Rootful) => Finding::pass("rootful docker engine"),
        None => Finding::skip("docker is not installed"),
    }
}

fn docker_version(c: &Ctx, _: Option<&str>) -> Finding {
    let v = match c.version() {
        Ok(v) => v,
        Err(e) if nothing_installed(c, &e) => return Finding::skip("docker is not installed"),
        Err(e) => return Finding::skip(format!("docker does not answer ({e})")),
    };
    let docker = v["Version"].as_str().unwrap_or_default().to_string();
    let comp = |name: &str| {
        v["Components"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["Name"].as_str() == Some(name)))
            .and_then(|c| c["Version"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    let all = format!(
        "docker {docker}, containerd {}, runc {}",
        comp("containerd"),
        comp("runc")
    );
    let Some(dv) = Version::parse(&docker) else {
        return Finding::pass(all);
    };
    if dv >= Version(25, 0, 0) && dv <= Version(25, 0, 3) {
        return Finding::problem(
            format!(
                "{all}: docker 25.0.0-25.0.3 cannot restore checkpoints (`content digest ... not found`)"
            ),
            "upgrade docker to >= 25.0.4",
        );
    }
    if dv.0 == 28 || dv.0 == 29 {
        return Finding::problem(
            format!(
                "{all}: docker 28.x (and reportedly 29.x) cannot restore containers on none or bridge networks (`bind-mount /proc/0/ns/net`)"
            ),
            "run the container with --network host or --network container:HOLDER",
        );
    }
    Finding::pass(all)
}

fn docker_init(c: &Ctx, _: Option<&str>) -> Finding {
    match c.docker().map(|d| d.init) {
        Some(Init::Systemd) => Finding::pass("systemd (systemctl restart docker)"),
        Some(Init::SysV) => Finding::pass("SysV init script (service docker restart)"),
        Some(Init::OpenRc) => Finding::pass("OpenRC (rc-service docker restart)"),
        Some(Init::Unmanaged) => Finding::problem(
            "no init system manages dockerd: a restart to apply daemon.json must be done by hand",
            "restart dockerd the way it was started",
        ),
        None => Finding::skip("docker is not installed"),
    }
}

/// The container's inspect answer, asked once for all the checks.
fn inspect(c: &Ctx, name: Option<&str>) -> Result<serde_json::Value, Finding> {
    c.container(name.unwrap_or_default())
        .raw
        .clone()
        .map_err(Finding::cannot)
}

fn container_running(c: &Ctx, name: Option<&str>) -> Finding {
    let i = match inspect(c, name) {
        Ok(i) => i,
        Err(f) => return f,
    };
    if i["State"]["Running"].as_bool() == Some(true) {
        Finding::pass("running")
    } else {
        Finding::problem(
            format!(
                "not running ({}): only running containers can be checkpointed",
                i["State"]["Status"].as_str().unwrap_or("?")
            ),
            format!("docker start {}", name.unwrap_or_default()),
        )
    }
}

fn container_auto_remove(c: &Ctx, name: Option<&str>) -> Finding {
    let i = match inspect(c, name) {
        Ok(i) => i,
        Err(f) => return f,
    };
    if i["HostConfig"]["AutoRemove"].as_bool() == Some(true) {
        Finding::problem(
            "started with --rm: the checkpoint stops it and docker removes it with its checkpoints (`cgroup.img: no such file or directory`, or `No such container` on restore)",
            "recreate the container without --rm",
        )
    } else {
        Finding::pass("not --rm")
    }
}

fn container_tty(c: &Ctx, name: Option<&str>) -> Finding {
    let i = match inspect(c, name) {
        Ok(i) => i,
        Err(f) => return f,
    };
    let tty = i["Config"]["Tty"].as_bool() == Some(true);
    let stdin = i["Config"]["OpenStdin"].as_bool() == Some(true);
    if tty && stdin {
        Finding::problem(
            "started with -it: an interactive shell on a terminal; CRIU refuses it (`Task attached to shell terminal`), and its terminal cannot come back on restore",
            "recreate the container without -i and -t (docker run -d ...)",
        )
    } else if tty {
        Finding::warn(
            "started with -t: a terminal CRIU must dump as external; a shell on it would be refused (`Task attached to shell terminal`)",
            "recreate the container without -t",
        )
    } else {
        Finding::pass("no terminal")
    }
}

fn container_restart_policy(c: &Ctx, name: Option<&str>) -> Finding {
    let i = match inspect(c, name) {
        Ok(i) => i,
        Err(f) => return f,
    };
    let policy = i["HostConfig"]["RestartPolicy"]["Name"]
        .as_str()
        .unwrap_or("no")
        .to_string();
    if matches!(policy.as_str(), "always" | "unless-stopped" | "on-failure") {
        let boot = if policy == "always" {
            "; and `always` starts it fresh whenever the daemon starts (at boot), so a restore must stop it first (dockpoint restore --yes does)"
        } else {
            ""
        };
        Finding::problem(
            format!(
                "restart policy `{policy}`: a plain `docker checkpoint create` stops the container in a way docker restarts fresh at once (seen with `always`), and `docker start --checkpoint` on a running container restores nothing, silently; dockpoint checkpoint stops it as a manual stop, which docker leaves stopped{boot}"
            ),
            format!(
                "docker update --restart=no {} (or checkpoint with --leave-running)",
                name.unwrap_or_default()
            ),
        )
    } else {
        Finding::pass(format!("restart policy `{policy}`"))
    }
}

fn container_sockets(c: &Ctx, name: Option<&str>) -> Finding {
    let i = match inspect(c, name) {
        Ok(i) => i,
        Err(f) => return f,
    };
    let socks: Vec<String> = i["Mounts"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["Source"].as_str())
                .filter(|s| {
                    s.ends_with(".sock")
                        || s.ends_with("/docker.sock")
                        || s.contains("/run/systemd/journal")
                })
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if socks.is_empty() {
        Finding::pass("no bind-mounted sockets")
    } else {
        Finding::problem(
            format!(
                "bind-mounted sockets: {} (a connection to them is external: `External socket is used`)",
                socks.join(", ")
            ),
            "remove the bind mount, or `ext-unix-sk` in /etc/criu/runc.conf for datagram sockets",
        )
    }
}

fn container_checkpoints(c: &Ctx, name: Option<&str>) -> Finding {
    let i = match inspect(c, name) {
        Ok(i) => i,
        Err(f) => return f,
    };
    let id = i["Id"].as_str().unwrap_or_default();
    let dir = format!("/var/lib/docker/containers/{id}/checkpoints");
    let names: Vec<String> = c.host.fs.read_dir(&dir).unwrap_or_default();
    if names.is_empty() {
        Finding::pass("no checkpoints yet")
    } else {
        Finding::pass(format!("checkpoints: {}", names.join(", "))).detail(dir)
    }
}

/// The container's /proc facts, or why there are none.
fn container_facts(
    c: &Ctx,
    name: Option<&str>,
) -> Result<std::sync::Arc<crate::observe::ContainerObs>, Finding> {
    let o = c.container(name.unwrap_or_default());
    match (&o.inspect, &o.facts) {
        (Err(e), _) => Err(Finding::cannot(e.clone())),
        (Ok(_), None) => Err(Finding::skip("the container is not running")),
        (Ok(_), Some(_)) => Ok(o),
    }
}

/// runc.conf's text, as CRIU will read it.
fn runc_conf_text(c: &Ctx) -> Option<String> {
    c.host.fs.read_quiet(crate::observe::RUNC_CONF)
}

fn container_processes(c: &Ctx, name: Option<&str>) -> Finding {
    match container_facts(c, name) {
        Ok(o) => judged(crate::container::judge_processes(
            o.facts.as_ref().expect("running"),
        )),
        Err(f) => f,
    }
}

fn container_tcp(c: &Ctx, name: Option<&str>) -> Finding {
    let o = match container_facts(c, name) {
        Ok(o) => o,
        Err(f) => return f,
    };
    match crate::container::TcpOptions::from_runc_conf(runc_conf_text(c).as_deref()) {
        Ok(opts) => judged(crate::container::judge_tcp(
            o.facts.as_ref().expect("running"),
            opts,
        )),
        Err(e) => Finding::cannot(format!("cannot read {}: {e}", crate::observe::RUNC_CONF)),
    }
}

fn container_deleted_files(c: &Ctx, name: Option<&str>) -> Finding {
    let o = match container_facts(c, name) {
        Ok(o) => o,
        Err(f) => return f,
    };
    match crate::container::ghost_limit(runc_conf_text(c).as_deref()) {
        Ok(limit) => judged(crate::container::judge_deleted_files(
            o.facts.as_ref().expect("running"),
            limit,
        )),
        Err(e) => Finding::cannot(format!("cannot read {}: {e}", crate::observe::RUNC_CONF)),
    }
}

fn container_open_files(c: &Ctx, name: Option<&str>) -> Finding {
    match container_facts(c, name) {
        Ok(o) => judged(crate::container::judge_open_files(
            o.facts.as_ref().expect("running"),
        )),
        Err(f) => f,
    }
}

fn container_space(c: &Ctx, name: Option<&str>) -> Finding {
    let o = match container_facts(c, name) {
        Ok(o) => o,
        Err(f) => return f,
    };
    match &o.space {
        Some(plan) => judged(crate::container::judge_space(plan)),
        None => Finding::cannot(
            "the container's memory could not be read, so the room a checkpoint needs is unknown",
        ),
    }
}

/// Docker >= 28 cannot restore a container with a network namespace of its
/// own (moby#50750, containerd#12141: `bind-mount /proc/0/ns/net`).
fn container_network(c: &Ctx, name: Option<&str>) -> Finding {
    let o = c.container(name.unwrap_or_default());
    let i = match &o.inspect {
        Ok(i) => i,
        Err(e) => return Finding::cannot(e.clone()),
    };
    let mode = &i.host_config.network_mode;
    let Some(v) = c.docker_version() else {
        return Finding::cannot("the docker version is unknown");
    };
    let major = v.split('.').next().and_then(|m| m.parse::<u32>().ok());
    match major {
        // NetworkDisabled (API only): docker joins no namespace at restore.
        Some(_) if i.config.network_disabled => Finding::pass(format!(
            "network disabled (NetworkDisabled) on Docker {v}: restorable"
        )),
        Some(m) if m >= 28 && mode.private_netns() => Finding::warn(
            format!(
                "network mode `{mode}` on Docker {v}: docker >= 28 cannot restore a container with a network namespace of its own (`bind-mount /proc/0/ns/net ... no such file or directory`, moby#50750): a checkpoint can be made but not restored here"
            ),
            "run the container with --network host, or --network container:<holder> (a container that is never checkpointed owns the network), or use Docker <= 27",
        ),
        _ => Finding::pass(format!("network mode `{mode}` on Docker {v}")),
    }
}

fn host_checkpoint_leftovers(c: &Ctx, _: Option<&str>) -> Finding {
    judged(crate::container::judge_leftovers(c.leftovers()))
}

/// A judgement of [`crate::container`] in the doctor's shape: Ok passes,
/// Refuse is a problem (the check's severity says how bad), Warn only warns,
/// Unknown could not run.
fn judged(j: crate::container::Judgement) -> Finding {
    use crate::container::Verdict;
    let fix = j.fix.clone().unwrap_or_default();
    let mut f = match j.verdict {
        Verdict::Ok => Finding::pass(&j.message),
        Verdict::Warn => Finding::warn(&j.message, fix),
        Verdict::Refuse => Finding::problem(&j.message, fix),
        Verdict::Unknown => Finding::cannot(&j.message),
    };
    for d in &j.details {
        f = f.detail(d);
    }
    f
}
