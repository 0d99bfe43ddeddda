//! Unit tests of the docker-restart step: plan and apply, with rollback,
//! against a fake engine and a recording command runner.

use super::facts::Facts;
use super::plan::{Action, Flags, PlannedStep, Restart, Status, StepId, Written};
use super::restart_step;
use crate::docker::{Api, Daemon, Init, Kind};
use crate::fake_engine::{FakeEngine, Mode};
use crate::fsio;
use crate::host::{Cmd, Host, RecordingRunner, Term};
use crate::observe::Engine;
use crate::rootfs::Root;
use std::sync::Arc;
use std::time::Duration;

const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const OLD: &[u8] = b"{\n  \"log-driver\": \"journald\"\n}\n";
const NEW: &[u8] = b"{\n  \"log-driver\": \"journald\",\n  \"experimental\": true\n}\n";

// ---------------------------------------------------------------- plan ---

fn daemon(init: Init) -> Daemon {
    Daemon {
        pid: Some(4242),
        argv: vec!["/usr/bin/dockerd".into(), "-H".into(), "fd://".into()],
        config_file: DAEMON_JSON.into(),
        experimental_flag: None,
        kind: Kind::Rootful,
        init,
        dockerd: Some("/usr/bin/dockerd".into()),
    }
}

fn engine(experimental: Result<bool, String>) -> Engine {
    Engine {
        experimental,
        platform: Some("Docker Engine - Community".into()),
        running: Vec::new(),
        live_restore: false,
    }
}

/// A live host whose docker (managed by `init`) has experimental off and
/// answers on `api`.
fn live_facts(init: Init, api: Api) -> Facts {
    let mut f = super::steps::tests::facts(None, None);
    f.live = true;
    f.root = None;
    f.docker = Some(daemon(init));
    f.engine = Some(engine(Ok(false)));
    f.api = Some(api);
    f
}

/// An API nothing connects to in a pure plan.
fn unused_api() -> Api {
    Api::at("/nonexistent/dockpoint-test.sock")
}

/// The daemon-json step, planned with `status`.
fn dj(status: Status) -> PlannedStep {
    let mut s = PlannedStep::new(StepId::DaemonJson);
    s.status = status;
    s
}

fn plan(f: &Facts, flags: &Flags, before: &[PlannedStep]) -> PlannedStep {
    let s = restart_step::plan(f, flags, before);
    assert_eq!(s.id, StepId::DockerRestart);
    s
}

fn restart_of(s: &PlannedStep) -> &Restart {
    match &s.action {
        Some(Action::Restart(r)) => r,
        other => panic!("no restart planned ({:?}): {other:?}", s.status),
    }
}

#[test]
fn plan_restarts_through_the_init_system_that_runs_docker() {
    for (init, cmd) in [
        (Init::Systemd, ["systemctl", "restart", "docker"]),
        (Init::SysV, ["service", "docker", "restart"]),
        (Init::OpenRc, ["rc-service", "docker", "restart"]),
    ] {
        let f = live_facts(init, unused_api());
        let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
        assert_eq!(s.status, Status::Changed, "{init:?}: {}", s.message);
        let r = restart_of(&s);
        assert_eq!(r.command, cmd, "{init:?}");
        assert_eq!(r.init, init);
        assert_eq!(r.wait, Duration::from_secs(60));
        assert_eq!(r.api.socket, unused_api().socket);
        let line = cmd.join(" ");
        assert!(
            s.message.contains(&format!("restart docker with `{line}`")),
            "{init:?}: {}",
            s.message
        );
        assert!(
            s.message.contains("so that it reads the new daemon.json"),
            "{}",
            s.message
        );
        assert!(
            s.message.contains("no containers are running"),
            "{}",
            s.message
        );
    }
}

#[test]
fn plan_snap_docker_restarts_with_snap() {
    let mut f = live_facts(Init::Systemd, unused_api());
    let d = f.docker.as_mut().unwrap();
    d.kind = Kind::Snap;
    d.argv = vec!["/snap/docker/3265/bin/dockerd".into()];
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert_eq!(s.status, Status::Changed, "{}", s.message);
    assert_eq!(restart_of(&s).command, ["snap", "restart", "docker"]);
    assert!(s.message.starts_with("snap docker: "), "{}", s.message);
    assert!(
        s.message
            .contains("restart docker with `snap restart docker`"),
        "{}",
        s.message
    );
}

#[test]
fn plan_unmanaged_dockerd_is_manual_with_its_pid_and_command_line() {
    let mut f = live_facts(Init::Unmanaged, unused_api());
    let d = f.docker.as_mut().unwrap();
    d.pid = Some(777);
    d.argv = vec![
        "/usr/local/bin/dockerd".into(),
        "--data-root".into(),
        "/srv/docker".into(),
    ];
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert_eq!(s.status, Status::Manual, "{}", s.message);
    assert!(s.action.is_none(), "nothing may be run: {:?}", s.action);
    for want in [
        "dockerd (pid 777) is not managed by systemd, SysV init or OpenRC",
        "kill -TERM 777",
        "start it again as `/usr/local/bin/dockerd --data-root /srv/docker`",
        "docker version --format '{{.Server.Experimental}}' prints true",
    ] {
        assert!(s.message.contains(want), "missing {want:?}: {}", s.message);
    }
}

#[test]
fn plan_no_restart_skips_and_names_the_command() {
    let f = live_facts(Init::SysV, unused_api());
    let flags = Flags {
        no_restart: true,
        ..Flags::default()
    };
    let s = plan(&f, &flags, &[dj(Status::Changed)]);
    assert_eq!(s.status, Status::Skipped, "{}", s.message);
    assert!(s.action.is_none());
    assert!(s.message.contains("--no-restart"), "{}", s.message);
    assert!(
        s.message.contains("service docker restart"),
        "{}",
        s.message
    );
}

#[test]
fn plan_experimental_already_on_needs_no_restart() {
    let mut f = live_facts(Init::Systemd, unused_api());
    f.engine = Some(engine(Ok(true)));
    for before in [dj(Status::Changed), dj(Status::Ok)] {
        let s = plan(&f, &Flags::default(), std::slice::from_ref(&before));
        assert_eq!(s.status, Status::Ok, "{}", s.message);
        assert!(s.action.is_none(), "{:?}", s.action);
        assert!(s.message.contains("no restart needed"), "{}", s.message);
    }
}

#[test]
fn plan_docker_desktop_is_manual_and_never_restarted() {
    let mut f = live_facts(Init::Systemd, unused_api());
    f.engine.as_mut().unwrap().platform = Some("Docker Desktop 4.30.0 (149282)".into());
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert_eq!(s.status, Status::Manual, "{}", s.message);
    assert!(s.action.is_none());
    assert!(
        s.message.contains("this is Docker Desktop 4.30.0 (149282)"),
        "{}",
        s.message
    );
    assert!(s.message.contains("use a Linux host with docker engine"));
}

#[test]
fn plan_failed_daemon_json_is_not_followed_by_a_restart() {
    let f = live_facts(Init::Systemd, unused_api());
    let s = plan(&f, &Flags::default(), &[dj(Status::Failed)]);
    assert_eq!(s.status, Status::Skipped, "{}", s.message);
    assert!(s.action.is_none());
    assert!(s.message.contains("see daemon-json"), "{}", s.message);
    assert!(
        s.message.contains("docker was not restarted"),
        "{}",
        s.message
    );
}

#[test]
fn plan_configured_file_but_engine_off_restarts_because_of_the_file() {
    let f = live_facts(Init::Systemd, unused_api());
    let s = plan(&f, &Flags::default(), &[dj(Status::Ok)]);
    assert_eq!(s.status, Status::Changed, "{}", s.message);
    assert_eq!(restart_of(&s).command, ["systemctl", "restart", "docker"]);
    assert!(
        s.message.contains(
            "because daemon.json turns experimental on but the running docker has it off"
        ),
        "{}",
        s.message
    );
}

#[test]
fn plan_names_the_running_containers_and_live_restore() {
    let mut f = live_facts(Init::Systemd, unused_api());
    f.engine.as_mut().unwrap().running = vec!["web".into(), "db".into()];
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert!(
        s.message
            .contains("this stops the running containers: web, db (live-restore is off"),
        "{}",
        s.message
    );
    f.engine.as_mut().unwrap().live_restore = true;
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert!(
        s.message
            .contains("live-restore is on: running containers (web, db) keep running"),
        "{}",
        s.message
    );
    assert!(!s.message.contains("this stops"), "{}", s.message);
}

#[test]
fn plan_under_root_never_restarts() {
    let mut f = live_facts(Init::Systemd, unused_api());
    f.live = false;
    f.root = Some("/img".into());
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert_eq!(s.status, Status::Skipped, "{}", s.message);
    assert!(s.action.is_none());
    assert!(
        s.message
            .contains("--root: not a live system; docker reads daemon.json when it next starts"),
        "{}",
        s.message
    );
    let s = plan(&f, &Flags::default(), &[dj(Status::Ok)]);
    assert_eq!(s.status, Status::Ok, "{}", s.message);
    assert!(s.action.is_none());
}

#[test]
fn plan_docker_not_answering_is_not_restarted() {
    let mut f = live_facts(Init::Systemd, unused_api());
    f.engine = Some(engine(Err(
        "cannot connect: No such file or directory".into()
    )));
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert!(s.action.is_none(), "{:?}", s.action);
    assert!(
        s.message
            .contains("docker does not answer (cannot connect: No such file or directory)"),
        "{}",
        s.message
    );
    // Without an API to wait on, nothing is restarted either.
    let mut f = live_facts(Init::Systemd, unused_api());
    f.api = None;
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert_eq!(s.status, Status::Skipped, "{}", s.message);
    assert!(s.action.is_none());
}

#[test]
fn plan_without_docker_installed_skips_and_says_so() {
    // No daemon at all, or one with neither a running dockerd nor a binary
    // (a unit file left behind): not installed.
    let mut f = live_facts(Init::Systemd, unused_api());
    f.docker = None;
    f.engine = Some(engine(Err(
        "cannot connect: No such file or directory".into()
    )));
    let mut left_behind = daemon(Init::Systemd);
    left_behind.pid = None;
    left_behind.dockerd = None;
    for docker in [None, Some(left_behind)] {
        f.docker = docker;
        for before in [dj(Status::Changed), dj(Status::Ok)] {
            let s = plan(&f, &Flags::default(), std::slice::from_ref(&before));
            assert_eq!(s.status, Status::Skipped, "{}", s.message);
            assert!(s.action.is_none());
            assert_eq!(
                s.message,
                "docker is not installed: nothing to restart; install docker, then re-run dockpoint setup"
            );
        }
    }
}

#[test]
fn plan_installed_but_stopped_docker_is_not_restarted() {
    let mut f = live_facts(Init::Unmanaged, unused_api());
    let d = f.docker.as_mut().unwrap();
    d.pid = None;
    f.engine = Some(engine(Err(
        "cannot connect: No such file or directory".into()
    )));
    let s = plan(&f, &Flags::default(), &[dj(Status::Changed)]);
    assert!(s.action.is_none());
    assert_eq!(s.status, Status::Ok, "{}", s.message);
    assert!(
        s.message
            .starts_with("dockerd is installed but not running: nothing to restart; it reads daemon.json when it starts"),
        "{}",
        s.message
    );
}

#[test]
fn header_says_docker_is_not_installed_where_the_step_does() {
    use crate::observe::docker_not_installed_line;
    let line = docker_not_installed_line(true, None).unwrap();
    assert!(line.starts_with("Docker: not installed"), "{line}");
    assert!(line.contains("install docker, then re-run dockpoint setup"));
    let mut left_behind = daemon(Init::Unmanaged);
    left_behind.pid = None;
    left_behind.dockerd = None;
    assert!(docker_not_installed_line(true, Some(&left_behind)).is_some());
    // Installed (running, or a binary): the header describes it instead.
    let running = daemon(Init::Systemd);
    assert_eq!(docker_not_installed_line(true, Some(&running)), None);
    let mut stopped = daemon(Init::Unmanaged);
    stopped.pid = None;
    assert_eq!(docker_not_installed_line(true, Some(&stopped)), None);
    // Under --root no docker is looked for: nothing to say.
    assert_eq!(docker_not_installed_line(false, None), None);
}

// --------------------------------------------------------------- apply ---

/// A temp root holding a daemon.json, a recording runner, and the facts
/// of a live host whose docker `init` manages.
struct Scene {
    dir: tempfile::TempDir,
    runner: Arc<RecordingRunner>,
    host: Host,
    facts: Facts,
}

impl Scene {
    /// `old`: the daemon.json before (None: absent). The engine API is `api`.
    fn new(init: Init, runner: RecordingRunner, api: Api, old: Option<&[u8]>) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/docker")).unwrap();
        if let Some(old) = old {
            std::fs::write(dir.path().join("etc/docker/daemon.json"), old).unwrap();
        }
        let runner = Arc::new(runner);
        let host = Host {
            fs: Root::open(dir.path()).unwrap(),
            live: true,
            runner: Box::new(runner.clone()),
            term: Term::plain(),
        };
        Scene {
            dir,
            runner,
            host,
            facts: live_facts(init, api),
        }
    }

    /// The daemon-json step, applied for real: `fsio::write_file` from
    /// `old` to NEW, with its `written` record.
    fn write_daemon_json(&self, old: Option<&[u8]>) -> PlannedStep {
        let done = fsio::write_file(&self.host, DAEMON_JSON, old, NEW, &|_, _| Ok(()))
            .expect("the daemon.json write");
        assert_eq!(self.file().as_deref(), Some(NEW));
        let mut s = dj(Status::Changed);
        s.path = Some(DAEMON_JSON.into());
        s.backup = done.backup;
        s.written = Some(Written {
            path: done.host_path,
            old: old.map(<[u8]>::to_vec),
            new: NEW.to_vec(),
        });
        s
    }

    /// daemon.json's bytes now (None: absent).
    fn file(&self) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join("etc/docker/daemon.json")).ok()
    }

    fn write(&self, abs: &str, bytes: &[u8]) {
        let p = self.dir.path().join(abs.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// Plan the restart after `before` (it must be planned), give it
    /// `wait`, apply it; the step as reported.
    fn apply(&self, before: &[PlannedStep], wait: Duration) -> PlannedStep {
        let mut s = plan(&self.facts, &Flags::default(), before);
        let mut r = match s.action.take() {
            Some(Action::Restart(r)) => r,
            other => panic!("no restart planned: {other:?} ({})", s.message),
        };
        r.wait = wait;
        restart_step::apply(&self.host, &self.facts, &mut s, r, before);
        s
    }

    fn lines(&self) -> Vec<String> {
        self.runner.lines()
    }

    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| *l == line).count()
    }
}

fn restart_line(init: Init) -> &'static str {
    match init {
        Init::Systemd => "systemctl restart docker",
        Init::SysV => "service docker restart",
        Init::OpenRc => "rc-service docker restart",
        Init::Unmanaged => unreachable!("no restart command"),
    }
}

const INITS: [Init; 3] = [Init::Systemd, Init::SysV, Init::OpenRc];
const JOURNAL: &str = "journalctl -u docker -n 30 --no-pager -o short-iso";

/// Long enough for a fake engine on a temp socket; only ends a failure.
const BOUND: Duration = Duration::from_secs(20);

#[test]
fn apply_success_runs_exactly_the_restart_command() {
    for init in INITS {
        let fake = FakeEngine::docker(true);
        let runner = RecordingRunner::default().answer(restart_line(init), 0, "", "");
        let scene = Scene::new(init, runner, fake.api(), Some(OLD));
        let before = [scene.write_daemon_json(Some(OLD))];
        let s = scene.apply(&before, BOUND);
        assert_eq!(s.status, Status::Changed, "{init:?}: {}", s.message);
        assert_eq!(
            s.message,
            format!(
                "restarted docker with `{}`; experimental is on (Docker-Experimental: true); no containers were running",
                restart_line(init)
            )
        );
        let calls = scene.runner.calls();
        assert_eq!(calls.len(), 1, "{init:?}: {:?}", scene.lines());
        let words: Vec<&str> = restart_line(init).split(' ').collect();
        assert_eq!(calls[0].program, words[0]);
        assert_eq!(calls[0].args, &words[1..]);
        assert!(calls[0].env.is_empty(), "{:?}", calls[0].env);
        assert_eq!(calls[0].timeout, Duration::from_secs(120));
        // Verified on the engine, and the new file stays.
        assert!(
            fake.request_lines().contains(&"GET /_ping".to_string()),
            "{:?}",
            fake.request_lines()
        );
        assert_eq!(scene.file().as_deref(), Some(NEW));
    }
}

#[test]
fn apply_still_off_after_restart_rolls_back_per_init() {
    for init in INITS {
        let fake = FakeEngine::docker(false);
        let runner = RecordingRunner::default()
            .answer(restart_line(init), 0, "", "")
            .answer("systemctl reset-failed docker", 0, "", "")
            .answer(
                "journalctl",
                0,
                "dockerd[812]: API listen on /run/docker.sock\n",
                "",
            );
        let scene = Scene::new(init, runner, fake.api(), Some(OLD));
        let before = [scene.write_daemon_json(Some(OLD))];
        let s = scene.apply(&before, BOUND);
        assert_eq!(s.status, Status::Failed, "{init:?}: {}", s.message);
        assert!(
            s.message
                .starts_with("docker is back, but experimental is still off"),
            "{init:?}: {}",
            s.message
        );
        assert!(
            s.message.contains("Rolled back: restored the previous"),
            "{}",
            s.message
        );
        assert!(
            s.message.contains("docker is running again"),
            "{}",
            s.message
        );
        assert_eq!(
            scene.file().as_deref(),
            Some(OLD),
            "{init:?}: daemon.json is not the old one again"
        );
        assert_eq!(scene.count(restart_line(init)), 2, "{:?}", scene.lines());
        let want = match init {
            Init::Systemd => vec![
                restart_line(init),
                JOURNAL,
                "systemctl reset-failed docker",
                restart_line(init),
            ],
            _ => vec![restart_line(init), restart_line(init)],
        };
        assert_eq!(scene.lines(), want, "{init:?}");
    }
}

#[test]
fn apply_failing_restart_command_rolls_back_with_its_output() {
    for init in INITS {
        let fake = FakeEngine::docker(false);
        let runner = RecordingRunner::default()
            .answer(
                restart_line(init),
                1,
                "",
                "Job for docker.service failed because the control process exited with error code.\n",
            )
            .answer(restart_line(init), 0, "", "")
            .answer("systemctl reset-failed docker", 0, "", "")
            .answer("journalctl", 0, "", "");
        let scene = Scene::new(init, runner, fake.api(), Some(OLD));
        let before = [scene.write_daemon_json(Some(OLD))];
        let s = scene.apply(&before, BOUND);
        assert_eq!(s.status, Status::Failed, "{init:?}: {}", s.message);
        assert!(
            s.message
                .starts_with(&format!("`{}` failed (exit ", restart_line(init))),
            "{init:?}: {}",
            s.message
        );
        assert!(
            s.message
                .contains("Job for docker.service failed because the control process exited"),
            "{}",
            s.message
        );
        assert!(s.message.contains("Rolled back: restored the previous"));
        assert_eq!(scene.file().as_deref(), Some(OLD), "{init:?}");
        assert_eq!(scene.count(restart_line(init)), 2, "{:?}", scene.lines());
        assert_eq!(
            scene.count("systemctl reset-failed docker"),
            usize::from(init == Init::Systemd),
            "{init:?}: {:?}",
            scene.lines()
        );
        // The engine was not waited on after the failed command: only the
        // rollback's wait asked it, once.
        assert_eq!(fake.request_lines(), ["GET /_ping"], "{init:?}");
    }
}

#[test]
fn apply_docker_never_back_says_so_with_the_log_of_its_init() {
    for init in INITS {
        let gone = tempfile::tempdir().unwrap();
        let mut api = Api::at(gone.path().join("docker.sock"));
        api.timeout = Duration::from_millis(100);
        let runner = RecordingRunner::default()
            .answer(restart_line(init), 0, "", "")
            .answer("systemctl reset-failed docker", 0, "", "")
            .answer(
                "journalctl",
                0,
                "dockerd[812]: failed to start daemon: boom\n",
                "",
            );
        let scene = Scene::new(init, runner, api, Some(OLD));
        scene.write(
            "/var/log/docker.log",
            b"time=\"2026\" level=fatal msg=\"failed to start daemon: bang\"\n",
        );
        let before = [scene.write_daemon_json(Some(OLD))];
        let s = scene.apply(&before, Duration::from_millis(300));
        assert_eq!(s.status, Status::Failed, "{init:?}: {}", s.message);
        assert!(
            s.message.starts_with("docker did not answer within 300ms"),
            "{init:?}: {}",
            s.message
        );
        let advice = match init {
            Init::Systemd => "`journalctl -u docker`",
            _ => "/var/log/docker.log",
        };
        assert!(
            s.message.contains(&format!(
                "docker did NOT come back: start it with `{}` and read {advice}",
                restart_line(init)
            )),
            "{init:?}: {}",
            s.message
        );
        // The log shown is the one of this init system.
        let (shown, other) = match init {
            Init::Systemd => ("boom", "bang"),
            _ => ("bang", "boom"),
        };
        let log = s
            .message
            .split_once("The daemon's log before the rollback:\n")
            .map(|(_, l)| l)
            .unwrap_or_else(|| panic!("no log: {}", s.message));
        assert!(log.contains(shown), "{init:?}: {log}");
        assert!(!log.contains(other), "{init:?}: {log}");
        assert_eq!(scene.file().as_deref(), Some(OLD), "{init:?}");
        assert_eq!(scene.count(restart_line(init)), 2, "{:?}", scene.lines());
    }
}

#[test]
fn apply_hung_or_closing_engine_is_docker_not_back() {
    for (mode, said) in [
        (Mode::Hang, "no answer within"),
        (Mode::Close, "closed without an answer"),
    ] {
        let fake = FakeEngine::docker(true);
        fake.set_mode(mode);
        let mut api = fake.api();
        api.timeout = Duration::from_millis(100);
        let runner = RecordingRunner::default()
            .answer("systemctl restart docker", 0, "", "")
            .answer("systemctl reset-failed docker", 0, "", "")
            .answer("journalctl", 0, "", "");
        let scene = Scene::new(Init::Systemd, runner, api, Some(OLD));
        let before = [scene.write_daemon_json(Some(OLD))];
        let s = scene.apply(&before, Duration::from_millis(300));
        assert_eq!(s.status, Status::Failed, "{mode:?}: {}", s.message);
        assert!(
            s.message.contains(said),
            "{mode:?} is told as such: {}",
            s.message
        );
        assert!(
            s.message.contains(
                "docker did NOT come back: start it with `systemctl restart docker` and read `journalctl -u docker`"
            ),
            "{mode:?}: {}",
            s.message
        );
        assert_eq!(scene.file().as_deref(), Some(OLD), "{mode:?}");
        assert_eq!(
            scene.lines(),
            [
                "systemctl restart docker",
                JOURNAL,
                "systemctl reset-failed docker",
                "systemctl restart docker"
            ],
            "{mode:?}"
        );
        // The engine was asked, and the waits gave up on it.
        assert!(!fake.wait_requests(1).is_empty(), "{mode:?}");
    }
}

#[test]
fn apply_rollback_cannot_restore_a_file_changed_meanwhile() {
    let fake = FakeEngine::docker(false);
    let runner = RecordingRunner::default()
        .answer("systemctl restart docker", 0, "", "")
        .answer("systemctl reset-failed docker", 0, "", "")
        .answer("journalctl", 0, "", "");
    let scene = Scene::new(Init::Systemd, runner, fake.api(), Some(OLD));
    let before = [scene.write_daemon_json(Some(OLD))];
    // A third party edits daemon.json between the write and the rollback.
    let theirs: &[u8] = b"{\"experimental\": true, \"debug\": true}\n";
    scene.write(DAEMON_JSON, theirs);
    let s = scene.apply(&before, BOUND);
    assert_eq!(s.status, Status::Failed, "{}", s.message);
    assert!(
        s.message
            .contains("Rolled back: could NOT restore /etc/docker/daemon.json"),
        "{}",
        s.message
    );
    assert_eq!(
        scene.file().as_deref(),
        Some(theirs),
        "the third party's bytes were overwritten"
    );
    // The rest of the rollback still happens.
    assert_eq!(scene.count("systemctl reset-failed docker"), 1);
    assert_eq!(scene.count("systemctl restart docker"), 2);
}

#[test]
fn apply_rollback_removes_a_daemon_json_that_did_not_exist() {
    let fake = FakeEngine::docker(false);
    let runner = RecordingRunner::default().answer("service docker restart", 0, "", "");
    let scene = Scene::new(Init::SysV, runner, fake.api(), None);
    let before = [scene.write_daemon_json(None)];
    let s = scene.apply(&before, BOUND);
    assert_eq!(s.status, Status::Failed, "{}", s.message);
    assert!(
        s.message.contains("(it did not exist before)"),
        "{}",
        s.message
    );
    assert_eq!(scene.file(), None, "the created daemon.json is still there");
    assert!(
        !scene
            .dir
            .path()
            .join("etc/docker")
            .read_dir()
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("daemon.json")),
        "nothing of daemon.json may be left"
    );
    assert_eq!(
        scene.lines(),
        ["service docker restart", "service docker restart"]
    );
}

#[test]
fn apply_after_a_failed_daemon_json_runs_nothing() {
    let fake = FakeEngine::docker(false);
    let scene = Scene::new(
        Init::Systemd,
        RecordingRunner::default(),
        fake.api(),
        Some(OLD),
    );
    let r = Restart {
        command: vec!["systemctl", "restart", "docker"],
        init: Init::Systemd,
        api: fake.api(),
        wait: BOUND,
        impact: String::new(),
    };
    let mut s = PlannedStep::new(StepId::DockerRestart);
    s.status = Status::Changed;
    restart_step::apply(&scene.host, &scene.facts, &mut s, r, &[dj(Status::Failed)]);
    assert_eq!(s.status, Status::Skipped, "{}", s.message);
    assert!(s.message.contains("see daemon-json"), "{}", s.message);
    assert!(scene.lines().is_empty(), "{:?}", scene.lines());
    assert!(fake.requests().is_empty());
    assert_eq!(scene.file().as_deref(), Some(OLD));
}

/// The whole of setup's apply on a live-like temp root: the daemon-json
/// step really writes (its record comes from apply), the restart leaves
/// experimental off, and the rollback puts the old file back while the
/// runc.conf written before it stays.
#[test]
fn setup_apply_rolls_back_the_daemon_json_it_wrote() {
    let fake = FakeEngine::docker(false);
    let runner = RecordingRunner::default()
        .answer("/usr/bin/dockerd --validate", 0, "configuration OK\n", "")
        .answer("systemctl restart docker", 0, "", "")
        .answer("systemctl reset-failed docker", 0, "", "")
        .answer("journalctl", 0, "", "");
    let mut scene = Scene::new(Init::Systemd, runner, fake.api(), Some(OLD));
    scene.facts.daemon_json.content = Ok(Some(OLD.to_vec()));
    let flags = Flags {
        no_install: true,
        ..Flags::default()
    };
    let mut steps = super::plan(&scene.facts, &flags);
    let ids: Vec<Status> = steps.iter().map(|s| s.status).collect();
    assert_eq!(
        ids,
        [
            Status::Skipped,
            Status::Changed,
            Status::Changed,
            Status::Changed
        ],
        "{steps:#?}"
    );
    super::apply(&scene.host, &mut steps, &scene.facts);
    let restart = &steps[3];
    assert_eq!(restart.status, Status::Failed, "{}", restart.message);
    assert!(restart.message.contains("experimental is still off"));
    assert_eq!(scene.file().as_deref(), Some(OLD));
    assert_eq!(
        std::fs::read_to_string(scene.dir.path().join("etc/criu/runc.conf")).unwrap(),
        "tcp-established\n"
    );
    let lines = scene.lines();
    assert!(
        lines[0].starts_with("/usr/bin/dockerd --validate --config-file /proc/"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            "systemctl restart docker",
            JOURNAL,
            "systemctl reset-failed docker",
            "systemctl restart docker"
        ]
    );
}

#[test]
fn the_restart_command_is_recorded_whole() {
    // The Cmd as the runner saw it, not the script: program, args, bound.
    let fake = FakeEngine::docker(true);
    let runner = RecordingRunner::default().answer("rc-service", 0, "", "");
    let scene = Scene::new(Init::OpenRc, runner, fake.api(), Some(OLD));
    let before = [scene.write_daemon_json(Some(OLD))];
    let s = scene.apply(&before, BOUND);
    assert_eq!(s.status, Status::Changed, "{}", s.message);
    assert_eq!(
        scene.runner.calls(),
        [Cmd::new("rc-service", &["docker", "restart"]).timeout(Duration::from_secs(120))]
    );
}

// ----------------------------------------------- product bugs found here ---
// PRODUCT BUG tests: each fails until the product fix named in its comment
// is made (see the report of the unit-tests branch). They are not ignored.

/// PRODUCT BUG (fails until fixed): a failing restart command is reported
/// as `failed (exit Some(1))`. Fix in src/setup/restart_step.rs
/// `restart_and_verify`: format the status as
/// `out.status.map_or("by a signal".into(), |c| c.to_string())`, as
/// docker::unit::systemctl_show does.
#[test]
fn apply_failing_restart_says_the_exit_code_as_a_number() {
    let fake = FakeEngine::docker(true);
    let runner = RecordingRunner::default()
        .answer("service docker restart", 1, "", "failed\n")
        .answer("service docker restart", 0, "", "");
    let scene = Scene::new(Init::SysV, runner, fake.api(), Some(OLD));
    let before = [scene.write_daemon_json(Some(OLD))];
    let s = scene.apply(&before, BOUND);
    assert_eq!(s.status, Status::Failed, "{}", s.message);
    assert!(
        s.message
            .starts_with("`service docker restart` failed (exit 1):\nfailed\n"),
        "{}",
        s.message
    );
}

/// PRODUCT BUG (fails until fixed): when daemon.json was already right
/// (daemon-json Ok: nothing written, nothing to restore) and the restart
/// leaves experimental off, the message reads `Rolled back: ; docker is
/// running again.` Fix in src/setup/restart_step.rs `apply`: when `done`
/// is empty, say so ("daemon.json was not changed by this run") instead of
/// joining an empty list in front of "; docker ...".
#[test]
fn apply_rollback_with_nothing_to_restore_says_so() {
    let fake = FakeEngine::docker(false);
    let runner = RecordingRunner::default()
        .answer("systemctl restart docker", 0, "", "")
        .answer("systemctl reset-failed docker", 0, "", "")
        .answer("journalctl", 0, "", "");
    let scene = Scene::new(Init::Systemd, runner, fake.api(), Some(NEW));
    let s = scene.apply(&[dj(Status::Ok)], BOUND);
    assert_eq!(s.status, Status::Failed, "{}", s.message);
    assert_eq!(scene.file().as_deref(), Some(NEW), "nothing to restore");
    assert_eq!(scene.count("systemctl restart docker"), 2);
    assert!(
        s.message.contains("docker is running again"),
        "{}",
        s.message
    );
    assert!(!s.message.contains("Rolled back: ;"), "{}", s.message);
}

/// PRODUCT BUG (fails until fixed): snap docker runs as the systemd unit
/// snap.docker.dockerd, but the rollback resets `docker` (another unit),
/// and a docker that does not come back is sent to `journalctl -u docker`,
/// which shows nothing of it (docker::log_tail reads that unit too). Fix
/// in src/setup/restart_step.rs `apply` (and docker::log_tail): for
/// `d.kind == Kind::Snap` reset `snap.docker.dockerd` and advise
/// `snap logs docker.dockerd` (journalctl -u snap.docker.dockerd).
#[test]
fn apply_snap_docker_rollback_uses_the_snap_unit() {
    let gone = tempfile::tempdir().unwrap();
    let mut api = Api::at(gone.path().join("docker.sock"));
    api.timeout = Duration::from_millis(100);
    let runner = RecordingRunner::default()
        .answer("snap restart docker", 0, "", "")
        .answer("systemctl reset-failed", 0, "", "")
        .answer("journalctl", 0, "", "");
    let mut scene = Scene::new(Init::Systemd, runner, api, Some(OLD));
    let d = scene.facts.docker.as_mut().unwrap();
    d.kind = Kind::Snap;
    d.argv = vec!["/snap/docker/3265/bin/dockerd".into()];
    let before = [scene.write_daemon_json(Some(OLD))];
    let s = scene.apply(&before, Duration::from_millis(300));
    assert_eq!(s.status, Status::Failed, "{}", s.message);
    assert_eq!(scene.count("snap restart docker"), 2, "{:?}", scene.lines());
    assert_eq!(
        scene.count("systemctl reset-failed docker"),
        0,
        "the wrong unit was reset: {:?}",
        scene.lines()
    );
    assert!(s.message.contains("did NOT come back"), "{}", s.message);
    assert!(
        !s.message.contains("`journalctl -u docker`"),
        "advice to read a unit snap docker does not run as: {}",
        s.message
    );
    assert!(
        s.message.contains("snap.docker.dockerd") || s.message.contains("snap logs docker"),
        "{}",
        s.message
    );
}
