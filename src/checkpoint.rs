//! `dockpoint checkpoint CONTAINER [NAME]`: the preflight (the doctor's
//! checks for this host's docker and CRIU, and for this container), then the
//! checkpoint through the Engine API, with containerd's GC race retried, the
//! CRIU log kept and explained on failure, and the facts a later restore is
//! gated on recorded beside it.
//!
//! Observe (the observer and the container's facts, once), plan (the
//! preflight's verdict: a pure function of the doctor's report), apply (one
//! API call, retried only on the GC race).

use crate::cli::{CheckpointArgs, Format};
use crate::docker::api::{Api, ApiError};
use crate::doctor::CheckResult;
use crate::exit::Exit;
use crate::host::{Host, Term};
use crate::observe::Observer;
use crate::ui;
use crate::workflow::{RECORDS, Record, Verdict, named_log, valid_name, verdict};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The doctor's checks the preflight runs (prefixes): the host's docker and
/// CRIU, runc.conf, and every container check.
pub const PREFLIGHT: &[&str] = &[
    "docker.api",
    "docker.experimental",
    "criu.installed",
    "criu.version",
    "criu.check",
    "runc-conf",
    "container",
    "host.checkpoint-leftovers",
];

/// The default name: a sortable UTC time.
pub fn default_name(now: jiff::Timestamp) -> String {
    format!("cp-{}", now.strftime("%Y%m%dT%H%M%SZ"))
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub container: String,
    pub checkpoint: String,
    /// created / refused / failed.
    pub status: &'static str,
    pub duration_ms: u64,
    pub preflight: Vec<CheckResult>,
    pub warnings: Vec<String>,
    pub size_bytes: Option<u64>,
    /// Older checkpoints removed by --keep.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    /// Dumps made again because the container wrote while a dump thawed it.
    #[serde(skip_serializing_if = "is_zero")]
    pub redumped: u32,
    /// CRIU's own statistics of the dump (podman's --print-stats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criu_stats: Option<crate::criu_image::DumpStats>,
    /// none / retried / purged.
    pub gc_race: &'static str,
    pub error: Option<String>,
    pub criu_log: Option<String>,
    pub diagnoses: Vec<crate::explain::Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Where this run's steps were logged (a run that changed nothing
    /// logs nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_log: Option<String>,
    pub message: String,
}

impl Report {
    /// Refused until something says otherwise; nothing measured yet.
    pub fn new(container: &str, checkpoint: &str, preflight: Vec<CheckResult>) -> Report {
        Report {
            format_version: 1,
            container: container.to_string(),
            checkpoint: checkpoint.to_string(),
            status: "refused",
            duration_ms: 0,
            preflight,
            warnings: Vec::new(),
            size_bytes: None,
            criu_stats: None,
            pruned: Vec::new(),
            redumped: 0,
            gc_race: "none",
            error: None,
            criu_log: None,
            diagnoses: Vec::new(),
            record: None,
            change_log: None,
            message: String::new(),
        }
    }
}

/// `dockpoint checkpoint`.
pub fn run(args: &CheckpointArgs) -> Exit {
    crate::runner::set_verbose(args.verbose);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(jiff::Timestamp::now()));
    if let Err(e) = valid_name(&name) {
        ui::error(&e);
        return Exit::Usage;
    }
    if !nix::unistd::geteuid().is_root() {
        ui::error(
            "dockpoint checkpoint reads the container's processes and talks to docker: run it as root (sudo dockpoint checkpoint ...)",
        );
        return Exit::Usage;
    }
    let json = args.format == Format::Json;
    // Ctrl-C ends the run after the step under way: never a container left
    // paused.
    ui::handle_ctrl_c();
    let term = Term::detect();
    let obs = match Observer::live(term) {
        Ok(o) => Arc::new(o),
        Err(exit) => return exit,
    };
    if args.only_at_shutdown && !shutting_down(&obs.host) {
        ui::eline(&format!(
            "dockpoint checkpoint {}: the host is not shutting down: no checkpoint (this is the shutdown unit's stop action)",
            args.container
        ));
        return Exit::Ok;
    }
    let started = Instant::now();
    let checks = crate::workflow::preflight(&obs, PREFLIGHT, "checkpoint", &args.container);
    let mut report = Report::new(&args.container, &name, checks.clone());
    match verdict(&checks) {
        Verdict::Refuse(why) => {
            report.message = format!(
                "refused before docker was called, nothing was done:\n  {}",
                why.join("\n  ")
            );
            return finish(json, report, started, None);
        }
        Verdict::Warn(w) => {
            report.warnings = w;
            let asked = crate::workflow::consent(
                &report.warnings,
                json,
                args.yes,
                term.interactive,
                "Checkpoint anyway (see the warnings)?",
            );
            if let Err(why) = asked {
                report.message = why;
                return finish(json, report, started, None);
            }
        }
        Verdict::Go => {}
    }
    let api = match obs.api() {
        Ok(a) => a.with_timeout(Duration::from_secs(args.timeout)),
        Err(e) => {
            report.status = "failed";
            report.message = e.clone();
            return finish(json, report, started, None);
        }
    };
    let facts = obs.container(&args.container);
    let progress = crate::progress::Progress::start(
        &obs.host.term,
        &format!(
            "checkpoint {} as {name}{}",
            args.container,
            if args.leave_running {
                " (left running)"
            } else {
                ""
            }
        ),
    );
    let stats_path = format!(
        "{}/criu-work/stats-dump",
        crate::workflow::task_dir(
            &crate::container::containerd_root_guess(&obs.host, &obs.docker_root()),
            facts.inspect.as_ref().map(|i| i.id.as_str()).unwrap_or("-")
        )
    );
    // Every file the dump recorded a size for still has it (read while the
    // container is paused).
    let verify = || -> Result<(), String> {
        let Ok(i) = &facts.inspect else {
            return Ok(());
        };
        let root = obs.docker_root();
        let dir = format!(
            "{}/containers/{}/checkpoints/{name}",
            root.trim_end_matches('/'),
            i.id
        );
        let Ok(Some(img)) = obs.host.fs.read(&format!("{dir}/files.img"), 256 << 20) else {
            return Ok(());
        };
        let files = crate::criu_image::reg_files(&img).map_err(|e| format!("{e:#}"))?;
        let changed: Vec<String> = crate::workflow::files_now(&obs.host, &files, i, &root)
            .into_iter()
            .filter_map(|f| match f.now {
                crate::workflow::Now::Size(n) if n != f.expect => Some(format!(
                    "{}: {n} bytes, the dump expects {}",
                    f.name, f.expect
                )),
                _ => None,
            })
            .collect();
        if changed.is_empty() {
            Ok(())
        } else {
            Err(changed.join("; "))
        }
    };
    let result = create(
        &obs.host,
        &api,
        &args.container,
        &name,
        !args.leave_running,
        &progress,
        &crate::gc_race::RETRY,
        &stats_path,
        &verify,
        &|| {
            if let Ok(i) = &facts.inspect
                && i.state.pid > 1
            {
                kill_cgroup_of(&obs.host, i.state.pid as i32, &i.id);
            }
        },
        &mut report,
    );
    match result {
        Ok(()) => {
            progress.finish("created");
            let retried = report.gc_race != "none";
            report.status = "created";
            let id = facts
                .inspect
                .as_ref()
                .map(|i| i.id.clone())
                .unwrap_or_default();
            let dir = format!(
                "{}/containers/{id}/checkpoints/{name}",
                obs.docker_root().trim_end_matches('/')
            );
            report.size_bytes = crate::container::dir_bytes(&obs.host, &dir);
            let record = Record {
                format_version: 1,
                container_id: id.clone(),
                container: args.container.clone(),
                checkpoint: name.clone(),
                created: jiff::Timestamp::now().to_string(),
                kernel: obs.kernel.as_ref().map(|k| k.release.clone()),
                criu: obs.criu().and_then(|c| c.version).map(|v| v.to_string()),
                docker: obs.docker_version(),
                leave_running: args.leave_running,
                open_files: facts
                    .facts
                    .as_ref()
                    .map(|f| {
                        f.writable_files
                            .iter()
                            .map(|o| (o.path.clone(), o.size))
                            .collect()
                    })
                    .unwrap_or_default(),
                size_bytes: report.size_bytes,
                image: facts
                    .inspect
                    .as_ref()
                    .ok()
                    .map(|i| i.image.clone())
                    .filter(|i| !i.is_empty()),
                containerd: component(&obs, "containerd"),
                runc: component(&obs, "runc"),
                cpuinfo: cpuinfo_dump(&obs.host, &crate::workflow::cpuinfo_dir(&id, &name)),
                tcp_close: crate::workflow::tcp_close_set(&obs.host).unwrap_or(false),
            };
            let path = format!("{RECORDS}/{id}/{name}.json");
            let text = serde_json::to_vec_pretty(&record).expect("a record serialises");
            match crate::fsio::write_state(&obs.host, &path, &text) {
                Ok(_) => report.record = Some(path),
                Err(e) => report.warnings.push(format!(
                    "the checkpoint's record could not be written: {e:#}"
                )),
            }
            if let Some(keep) = args.keep {
                match crate::checkpoints::list(&obs, &args.container) {
                    Ok((cid, entries)) => {
                        let (pruned, errors) = crate::checkpoints::prune(
                            &obs,
                            &args.container,
                            &cid,
                            &entries,
                            keep as usize,
                        );
                        report.pruned = pruned;
                        report.warnings.extend(errors);
                    }
                    Err(e) => report.warnings.push(format!("--keep: {e}")),
                }
            }
            report.message = format!(
                "created checkpoint {name} of {} ({}{}){}",
                args.container,
                report
                    .size_bytes
                    .map(crate::container::human_bytes)
                    .unwrap_or_else(|| "size unknown".into()),
                if retried {
                    ", after retrying containerd's GC race"
                } else {
                    ""
                },
                if args.leave_running {
                    "; the container keeps running"
                } else if report
                    .warnings
                    .iter()
                    .any(|w| w.starts_with("container.network"))
                {
                    "; the container is stopped, and this docker cannot restore it (container.network): cold start it with docker start"
                } else {
                    "; the container is stopped: restore it with dockpoint restore (or docker start --checkpoint)"
                }
            );
        }
        Err(e) => {
            progress.finish("failed");
            report.status = "failed";
            let msg = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            // Keep the CRIU log docker names before it goes with the task.
            let mut logs = Vec::new();
            if let Some(p) = named_log(&msg) {
                match keep_log(&obs.host, &p, &args.container, &name) {
                    Ok(kept) => {
                        report.criu_log = Some(kept.clone());
                        logs.push(kept);
                    }
                    Err(why) => report.warnings.push(why),
                }
            }
            report.diagnoses = crate::explain::explain_text(&obs.host, &msg, &logs).diagnoses;
            report.message = format!(
                "docker could not checkpoint {}: {msg}\nthe container runs on as before (it was paused for the dump, then resumed)",
                args.container
            );
            report.error = Some(msg);
        }
    }
    finish(json, report, started, Some((&obs.host, args.leave_running)))
}

/// The checkpoint, so that no failure loses the container's state:
///
/// docker's own `exit` makes CRIU kill the processes right after the dump,
/// and when the upload into containerd's store then fails (the GC race)
/// the container is stopped with no checkpoint kept: its state is gone.
/// So the container is paused (the cgroup freezer), dumped leaving it
/// running (still frozen), and only then killed with SIGKILL, which it
/// cannot run any code to handle: it ends exactly as dumped. On any failure
/// it is unpaused and runs on as before. The GC race is waited out while
/// it is paused (the same dump is retried). With `leave_running` the
/// pause is docker's own, during the dump.
#[allow(clippy::too_many_arguments)]
fn create(
    host: &Host,
    api: &Api,
    container: &str,
    name: &str,
    stop: bool,
    progress: &crate::progress::Progress,
    retry: &[Duration],
    stats_path: &str,
    verify: &dyn Fn() -> Result<(), String>,
    kill_frozen: &dyn Fn(),
    report: &mut Report,
) -> Result<(), ApiError> {
    if stop {
        progress.phase("pausing the container");
        api.pause(container)?;
    }
    // A dump that leaves the container running thaws it for a moment
    // before it is frozen again (CRIU restores the freezer's state): a
    // process may write in that moment, and a file CRIU recorded would no
    // longer have the size it expects. Checked while still paused; such a
    // dump is deleted and made again.
    for attempt in 0..MAX_DUMPS {
        progress.phase("dumping (CRIU)");
        // CRIU's statistics are written into a work directory containerd
        // removes right after: held open from the moment they appear.
        let passage = crate::gc_race::through(host, progress, retry, || {
            crate::watch::during(host, &[stats_path.to_string()], || {
                api.create_checkpoint(container, name, false)
            })
        });
        report.criu_stats = passage
            .extra
            .into_iter()
            .flatten()
            .next()
            .and_then(|b| crate::criu_image::dump_stats(&b).ok().flatten());
        if passage.path != "none" || report.gc_race == "none" {
            report.gc_race = passage.path;
        }
        report.warnings.extend(passage.warnings);
        if !stop {
            return passage.result;
        }
        if let Err(e) = passage.result {
            if let Err(e2) = api.unpause(container) {
                report.warnings.push(format!(
                    "the container could not be unpaused after the failed checkpoint: {e2}; run docker unpause {container}"
                ));
            }
            return Err(e);
        }
        match verify() {
            Ok(()) => break,
            Err(why) if attempt + 1 < MAX_DUMPS => {
                progress.phase(&format!(
                    "the container wrote while the dump thawed it ({why}): dumping again"
                ));
                report.redumped += 1;
                if let Err(e) = api.delete_checkpoint(container, name) {
                    report.warnings.push(format!(
                        "the dump that no longer matches its files could not be deleted: {e}"
                    ));
                    break;
                }
            }
            Err(why) => {
                // Unrestorable: do not stop the container for it.
                let _ = api.delete_checkpoint(container, name);
                if let Err(e2) = api.unpause(container) {
                    report.warnings.push(format!(
                        "the container could not be unpaused: {e2}; run docker unpause {container}"
                    ));
                }
                return Err(ApiError::Status {
                    what: format!("checkpoint {container}"),
                    status: 500,
                    message: format!(
                        "{MAX_DUMPS} dumps in a row did not match the container's files ({why}): the application writes while CRIU thaws it; the container runs on, nothing was kept"
                    ),
                });
            }
        }
    }
    progress.phase("stopping the paused container (SIGKILL: it ends as dumped)");
    // Every process gets SIGKILL while still frozen: docker's kill signals
    // only the container's init and then thaws the rest, which may run a
    // moment before the kernel ends them (a process with data waiting on a
    // socket wrote it to a file in that moment, in the e2e test).
    kill_frozen();
    match api.kill(container, "SIGKILL") {
        Ok(()) => {}
        // Already gone: the processes are dead and docker saw it.
        Err(ApiError::Status { status: 409, .. }) => {}
        Err(e) => report.warnings.push(format!(
            "the checkpoint was made, but the paused container could not be stopped: {e}; it is still paused: docker kill {container} (or docker unpause {container} to let it run on)"
        )),
    }
    Ok(())
}

/// SIGKILL to every process of the container's own cgroup but its init
/// (found from the init's `/proc/PID/cgroup`: the v2 line, else v1's
/// freezer). Frozen processes die without running any code of their own.
/// The init is left to docker's kill, which marks the stop as manual before
/// it signals: an init dying first could have a `--restart always`
/// container restarted by docker (seen once on the e2e host). Only a cgroup
/// whose path names the container's id is used: never a parent, never `/`.
pub fn kill_cgroup_of(host: &Host, init_pid: i32, id: &str) -> usize {
    let Some(text) = host.fs.read_quiet(&format!("/proc/{init_pid}/cgroup")) else {
        return 0;
    };
    let mut dirs = Vec::new();
    for l in text.lines() {
        let mut parts = l.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id.len() < 12 || !path.contains(id) {
            continue;
        }
        match ctrl {
            "" => dirs.insert(0, format!("/sys/fs/cgroup{path}")),
            c if c.split(',').any(|x| x == "freezer") => {
                dirs.push(format!("/sys/fs/cgroup/freezer{path}"))
            }
            _ => {}
        }
    }
    let Some(procs) = dirs
        .iter()
        .find_map(|d| host.fs.read_quiet(&format!("{d}/cgroup.procs")))
    else {
        return 0;
    };
    procs
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|&p| p > 1 && p != init_pid)
        .filter(|&p| {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::SIGKILL).is_ok()
        })
        .count()
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How many dumps are tried when the container writes in a dump's thaw.
pub const MAX_DUMPS: usize = 3;

/// systemd says the system is going down (`systemctl is-system-running`
/// answers `stopping`).
fn shutting_down(host: &Host) -> bool {
    host.run(&crate::host::Cmd::new("systemctl", &["is-system-running"]))
        .is_ok_and(|o| o.stdout.trim() == "stopping")
}

/// A component's version in docker's `/version` (containerd, runc).
fn component(obs: &Observer, name: &str) -> Option<String> {
    let v = obs.version().ok()?;
    v["Components"]
        .as_array()?
        .iter()
        .find(|c| {
            c["Name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|c| c["Version"].as_str().map(str::to_owned))
}

/// `criu cpuinfo dump -D DIR`: this CPU, for the restore's check. None when
/// it could not be described (the restore then does not check the CPU).
fn cpuinfo_dump(host: &Host, dir: &str) -> Option<String> {
    host.fs.create_dir_all(dir).ok()?;
    let cmd = crate::host::Cmd::new("criu", &["cpuinfo", "dump", "-D", &host.fs.display(dir)]);
    host.run(&cmd)
        .ok()
        .filter(|o| o.success())
        .map(|_| dir.to_string())
}

/// Copy the CRIU log under /var/log/dockpoint (docker removes the original
/// with the task).
fn keep_log(host: &Host, path: &str, container: &str, name: &str) -> Result<String, String> {
    let bytes = host
        .fs
        .read(path, 64 << 20)
        .map_err(|e| format!("the CRIU log {path} could not be read: {e:#}"))?
        .ok_or_else(|| format!("the CRIU log {path} was already gone"))?;
    let base = path.rsplit('/').next().unwrap_or("criu.log");
    crate::workflow::keep_log(host, &bytes, container, name, base)
}

fn finish(
    json: bool,
    mut report: Report,
    started: Instant,
    log: Option<(&crate::host::Host, bool)>,
) -> Exit {
    report.duration_ms = started.elapsed().as_millis() as u64;
    let exit = if report.status == "created" {
        Exit::Ok
    } else {
        Exit::Failed
    };
    if let Some((host, leave_running)) = log {
        report.change_log = change_log(&report, leave_running).finish(host, exit);
    }
    if json {
        ui::print_json(&report)
    } else {
        print_human(&report);
    }
    ui::finish(exit)
}

/// What a checkpoint changed, for the change log (a refusal: nothing).
fn change_log(r: &Report, leave_running: bool) -> crate::changelog::Run {
    use serde_json::json;
    let mut log = crate::changelog::Run::new("checkpoint");
    let (c, cp) = (&r.container, &r.checkpoint);
    match r.status {
        "created" => {
            log.event(
                "changed",
                json!({"container": c, "checkpoint": cp, "what": if leave_running { "checkpoint made, the container left running" } else { "checkpoint made, the container stopped" }, "size_bytes": r.size_bytes, "record": r.record, "redumped": r.redumped, "gc_race": r.gc_race}),
            );
            for p in &r.pruned {
                log.event(
                    "changed",
                    json!({"container": c, "checkpoint": p, "what": "checkpoint removed (--keep)"}),
                );
            }
        }
        "failed" => log.event(
            "failed",
            json!({"container": c, "checkpoint": cp, "error": r.error, "criu_log": r.criu_log, "message": r.message}),
        ),
        _ => {}
    }
    log
}

fn print_human(r: &Report) {
    crate::workflow::print_problems(&r.preflight);
    let sym = if r.status == "created" { "✓" } else { "✗" };
    ui::println(&format!("{sym} {}", r.message));
    if let Some(s) = &r.criu_stats {
        ui::println(&format!(
            "    CRIU: frozen {} ms (freezing {} ms, memory dump {} ms, write {} ms), {} pages written",
            s.frozen_time_us / 1000,
            s.freezing_time_us / 1000,
            s.memdump_time_us / 1000,
            s.memwrite_time_us / 1000,
            s.pages_written
        ));
    }
    if let Some(l) = &r.criu_log {
        ui::println(&format!("    CRIU log kept: {l}"));
    }
    if !r.pruned.is_empty() {
        ui::println(&format!(
            "    removed older checkpoints: {}",
            r.pruned.join(", ")
        ));
    }
    crate::workflow::print_diagnoses(&r.diagnoses);
    ui::println(&format!("    ({} ms)", r.duration_ms));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::doctor::checks::Severity;

    fn check(id: &'static str, status: Status) -> CheckResult {
        CheckResult {
            id,
            title: id.into(),
            severity: Severity::Error,
            status,
            message: format!("{id} says"),
            fix: Some("do this".into()),
            container: None,
            details: Vec::new(),
            millis: 0,
        }
    }

    #[test]
    fn the_preflight_refuses_on_a_failure_or_an_unknown_and_warns_otherwise() {
        let ok = check("criu.version", Status::Pass);
        assert_eq!(verdict(std::slice::from_ref(&ok)), Verdict::Go);
        let warn = check("container.open-files", Status::Warn);
        assert!(
            matches!(verdict(&[ok.clone(), warn.clone()]), Verdict::Warn(w) if w[0].contains("container.open-files"))
        );
        let fail = check("container.auto-remove", Status::Fail);
        match verdict(&[ok.clone(), warn.clone(), fail]) {
            Verdict::Refuse(r) => {
                assert_eq!(r.len(), 1);
                assert!(r[0].contains("fix: do this"), "{r:?}");
            }
            v => panic!("{v:?}"),
        }
        let unknown = check("criu.check", Status::Error);
        assert!(
            matches!(verdict(&[ok, unknown]), Verdict::Refuse(r) if r[0].contains("could not check"))
        );
    }

    #[test]
    fn names_follow_dockers_rule_and_the_default_sorts_by_time() {
        assert!(valid_name("cp-20261126T161930Z").is_ok());
        assert!(valid_name("before.upgrade_2").is_ok());
        for bad in ["", "a", "../x", "-x", "a/b", "a b"] {
            assert!(valid_name(bad).is_err(), "{bad:?}");
        }
        let t: jiff::Timestamp = "2026-11-26T16:19:30Z".parse().unwrap();
        let later: jiff::Timestamp = "2026-11-26T16:19:31Z".parse().unwrap();
        assert_eq!(default_name(t), "cp-20261126T161930Z");
        assert!(default_name(t) < default_name(later));
        assert!(valid_name(&default_name(t)).is_ok());
    }

    #[test]
    fn the_named_log_is_read_from_dockers_message() {
        let m = "Cannot checkpoint container tcp2: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/6a6e/criu-dump.log: unknown";
        assert_eq!(
            named_log(m).as_deref(),
            Some("/run/containerd/io.containerd.runtime.v2.task/moby/6a6e/criu-dump.log")
        );
        assert_eq!(named_log("no log here"), None);
    }

    /// The protocol against a recording engine: what docker is asked, in
    /// order, and what is left on each outcome.
    fn run_create(
        stop: bool,
        replies: Vec<crate::fake_engine::Reply>,
    ) -> (Result<(), ApiError>, Report, Vec<String>) {
        run_create_verified(stop, replies, &|| Ok(()))
    }

    fn run_create_verified(
        stop: bool,
        replies: Vec<crate::fake_engine::Reply>,
        verify: &dyn Fn() -> Result<(), String>,
    ) -> (Result<(), ApiError>, Report, Vec<String>) {
        use crate::fake_engine::{FakeEngine, Reply};
        let engine = FakeEngine::start();
        for r in ["pause", "unpause", "kill?signal=SIGKILL"] {
            engine.set(&format!("POST /containers/bela/{r}"), Reply::empty(204));
        }
        engine.set("DELETE /containers/bela/checkpoints/cp1", Reply::empty(204));
        engine.script("POST /containers/bela/checkpoints", replies);
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            fs: crate::rootfs::Root::open(dir.path()).unwrap(),
            live: true,
            runner: Box::new(crate::runner::RecordingRunner::default()),
            term: Term::plain(),
        };
        let mut report = Report::new("bela", "cp1", Vec::new());
        let progress = crate::progress::Progress::start(&Term::plain(), "test");
        let r = create(
            &host,
            &engine.api(),
            "bela",
            "cp1",
            stop,
            &progress,
            &[Duration::ZERO; 3],
            "/nowhere/stats-dump",
            verify,
            &|| {},
            &mut report,
        );
        let calls = engine
            .requests()
            .iter()
            .map(|q| {
                let exit = q.json()["Exit"]
                    .as_bool()
                    .map(|e| format!(" exit={e}"))
                    .unwrap_or_default();
                format!("{}{exit}", q.line().replace("/v1.45", ""))
            })
            .filter(|l| l.starts_with("POST") || l.starts_with("DELETE"))
            .collect();
        (r, report, calls)
    }

    const RACE: &str = "Cannot checkpoint container bela: content sha256:54aefe9619227375b52aad6d5a903c89374105ae5ce189761f11bac686bfd474: already exists";

    #[test]
    fn the_container_is_paused_dumped_running_then_killed_so_a_failure_never_loses_it() {
        use crate::fake_engine::Reply;
        let (r, rep, calls) = run_create(true, vec![Reply::empty(201)]);
        assert!(r.is_ok());
        assert_eq!(
            calls,
            vec![
                "POST /containers/bela/pause",
                "POST /containers/bela/checkpoints exit=false",
                "POST /containers/bela/kill?signal=SIGKILL",
            ]
        );
        assert_eq!(rep.gc_race, "none");
        // The GC race: the same dump again while paused, then killed.
        let (r, rep, calls) = run_create(true, vec![Reply::error(500, RACE), Reply::empty(201)]);
        assert!(r.is_ok());
        assert_eq!(rep.gc_race, "retried");
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[3], "POST /containers/bela/kill?signal=SIGKILL");
        // CRIU fails: unpaused, running on as before, never killed.
        let (r, _, calls) = run_create(
            true,
            vec![Reply::error(500, "criu failed: type NOTIFY errno 0")],
        );
        assert!(r.is_err());
        assert_eq!(
            calls,
            vec![
                "POST /containers/bela/pause",
                "POST /containers/bela/checkpoints exit=false",
                "POST /containers/bela/unpause",
            ]
        );
    }

    #[test]
    fn a_dump_the_container_wrote_past_is_deleted_and_made_again_while_paused() {
        use crate::fake_engine::Reply;
        let tries = std::cell::Cell::new(0);
        let verify = || {
            tries.set(tries.get() + 1);
            if tries.get() == 1 {
                Err("/data/journal: 10 bytes, the dump expects 5".to_string())
            } else {
                Ok(())
            }
        };
        let (r, rep, calls) = run_create_verified(true, vec![Reply::empty(201)], &verify);
        assert!(r.is_ok());
        assert_eq!(rep.redumped, 1);
        assert_eq!(
            calls,
            vec![
                "POST /containers/bela/pause",
                "POST /containers/bela/checkpoints exit=false",
                "DELETE /containers/bela/checkpoints/cp1",
                "POST /containers/bela/checkpoints exit=false",
                "POST /containers/bela/kill?signal=SIGKILL",
            ]
        );
        // It never settles: nothing kept, the container runs on, unkilled.
        let (r, _, calls) =
            run_create_verified(true, vec![Reply::empty(201)], &|| Err("grows".into()));
        assert!(format!("{}", r.unwrap_err()).contains("did not match"));
        assert_eq!(
            calls.last().map(String::as_str),
            Some("POST /containers/bela/unpause")
        );
        assert!(!calls.iter().any(|c| c.contains("kill")));
    }

    /// The cgroup the init names, v2 or v1's freezer: each process in it
    /// gets SIGKILL (a real child of this test; nothing else is touched).
    #[test]
    fn every_process_of_the_inits_cgroup_is_killed() {
        use std::os::unix::process::ExitStatusExt;
        let id = "4a7b5b48cc3c18b0977a6e8f";
        let rig = |line: &str, dirs: &[String]| {
            let root = tempfile::tempdir().unwrap();
            let child = std::process::Command::new("sleep")
                .arg("100")
                .spawn()
                .unwrap();
            std::fs::create_dir_all(root.path().join("proc/4242")).unwrap();
            std::fs::write(root.path().join("proc/4242/cgroup"), line).unwrap();
            for d in dirs {
                std::fs::create_dir_all(root.path().join(d)).unwrap();
                std::fs::write(
                    root.path().join(d).join("cgroup.procs"),
                    format!("{}\n", child.id()),
                )
                .unwrap();
            }
            let host = Host {
                fs: crate::rootfs::Root::open(root.path()).unwrap(),
                live: true,
                runner: Box::new(crate::runner::RecordingRunner::default()),
                term: Term::plain(),
            };
            (root, child, host)
        };
        for (line, dir) in [
            // v1 hierarchies listed but only v2 mounted (the e2e hosts):
            // the v2 line wins; the freezer's "/" is never taken.
            (
                format!("6:freezer:/\n0::/system.slice/docker-{id}.scope\n"),
                format!("sys/fs/cgroup/system.slice/docker-{id}.scope"),
            ),
            (
                format!("12:pids:/docker/{id}\n7:freezer:/docker/{id}\n0::/\n"),
                format!("sys/fs/cgroup/freezer/docker/{id}"),
            ),
        ] {
            let (_root, mut child, host) = rig(&line, &[dir]);
            assert_eq!(kill_cgroup_of(&host, 4242, id), 1, "{line}");
            assert_eq!(child.wait().unwrap().signal(), Some(9), "{line}");
        }
        // A root cgroup (no container id in its path) is never used.
        let (_root, mut child, host) = rig(
            "6:freezer:/\n0::/\n",
            &["sys/fs/cgroup".into(), "sys/fs/cgroup/freezer".into()],
        );
        assert_eq!(kill_cgroup_of(&host, 4242, id), 0);
        assert_eq!(child.try_wait().unwrap(), None, "not killed");
        child.kill().unwrap();
        child.wait().unwrap();
        // The init itself is left to docker's kill, which marks the stop as
        // manual first (else a --restart always container's init, dying
        // here, could be restarted by docker before that kill arrives).
        let line = format!("0::/system.slice/docker-{id}.scope\n");
        let dir = format!("sys/fs/cgroup/system.slice/docker-{id}.scope");
        let (root, mut child, host) = rig(&line, std::slice::from_ref(&dir));
        let mut init = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let init_pid = init.id() as i32;
        std::fs::create_dir_all(root.path().join(format!("proc/{init_pid}"))).unwrap();
        std::fs::write(root.path().join(format!("proc/{init_pid}/cgroup")), &line).unwrap();
        std::fs::write(
            root.path().join(&dir).join("cgroup.procs"),
            format!("{init_pid}\n{}\n", child.id()),
        )
        .unwrap();
        assert_eq!(kill_cgroup_of(&host, init_pid, id), 1);
        assert_eq!(child.wait().unwrap().signal(), Some(9));
        assert_eq!(
            init.try_wait().unwrap(),
            None,
            "the init is not killed here"
        );
        init.kill().unwrap();
        init.wait().unwrap();
    }

    #[test]
    fn leave_running_neither_pauses_nor_kills() {
        use crate::fake_engine::Reply;
        let (r, _, calls) = run_create(false, vec![Reply::empty(201)]);
        assert!(r.is_ok());
        assert_eq!(calls, vec!["POST /containers/bela/checkpoints exit=false"]);
    }
}
