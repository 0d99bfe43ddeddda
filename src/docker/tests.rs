//! Discovery as a whole: observed processes and systemd answers (built by
//! hand) over a temp root of files; and on the real machine.

use super::*;
use crate::host::{RecordingRunner, SystemRunner, Term};

#[test]
fn docker_flags() {
    let f = parse_flags(&[
        "/usr/sbin/dockerd",
        "-H",
        "fd://",
        "--experimental",
        "--config-file",
        "/x.json",
    ]);
    assert!(f.experimental);
    assert_eq!(f.config_file.as_deref(), Some("/x.json"));
    let f = parse_flags(&["dockerd", "--config-file=/y.json"]);
    assert!(!f.experimental);
    assert_eq!(f.config_file.as_deref(), Some("/y.json"));
    for (v, on) in [
        ("1", true),
        ("t", true),
        ("True", true),
        ("TRUE", true),
        ("0", false),
        ("F", false),
        ("false", false),
        ("yes", false),
    ] {
        let a = format!("--experimental={v}");
        assert_eq!(parse_flags(&["dockerd", &a]).experimental, on, "{a}");
    }
    assert!(!parse_flags(&["dockerd", "--experimental", "--experimental=false"]).experimental);
}

#[test]
fn docker_defaults_file() {
    assert_eq!(
        docker_opts("# comment\nDOCKER_OPTS=\"--experimental --dns 8.8.8.8\"\n").unwrap(),
        vec!["--experimental", "--dns", "8.8.8.8"]
    );
    assert_eq!(docker_opts("#DOCKER_OPTS=\"--experimental\"\n"), None);
}

#[test]
fn docker_opts_expansion() {
    let line: Vec<String> = ["/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"]
        .map(String::from)
        .to_vec();
    let opts: Vec<String> = ["--experimental", "--dns", "1.1.1.1"]
        .map(String::from)
        .to_vec();
    let (out, used) = expand_docker_opts(&line, &opts);
    assert!(used);
    assert_eq!(
        out,
        [
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--experimental",
            "--dns",
            "1.1.1.1"
        ]
    );
    let braced: Vec<String> = ["/usr/sbin/dockerd", "${DOCKER_OPTS}"]
        .map(String::from)
        .to_vec();
    let (out, used) = expand_docker_opts(&braced, &opts);
    assert!(used);
    assert_eq!(out, ["/usr/sbin/dockerd", "--experimental --dns 1.1.1.1"]);
    let (out, used) = expand_docker_opts(&line[..3], &opts);
    assert!(!used);
    assert_eq!(out.len(), 3);
}

/// A host root of files in a temp dir; commands are not run.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, abs: &str, text: &str) -> &Fixture {
        let p = self.dir.path().join(abs.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    fn mkdir(&self, abs: &str) -> &Fixture {
        std::fs::create_dir_all(self.dir.path().join(abs.trim_start_matches('/'))).unwrap();
        self
    }

    fn daemon(&self, seen: &Observed) -> Found {
        let host = Host::new(
            Some(self.dir.path().to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        let Discovery { daemon, notes } = from_observed(&host, seen);
        Found { d: daemon, notes }
    }
}

/// A discovered daemon with its notes, the daemon's fields at hand.
#[derive(Debug)]
struct Found {
    d: Daemon,
    notes: Vec<String>,
}

impl std::ops::Deref for Found {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.d
    }
}

fn ns(mnt: &str) -> Ns {
    Ns {
        pid: Some("pid:[4026531836]".into()),
        mnt: Some(format!("mnt:[{mnt}]")),
        user: Some("user:[4026531837]".into()),
        nspid_depth: Some(1),
        mount_ids: Default::default(),
    }
}

fn me() -> Ns {
    ns("4026531832")
}

fn proc(pid: i32, uid: u32, ns: Ns, argv: &str) -> ProcInfo {
    ProcInfo {
        pid,
        uid: Some(uid),
        comm: "dockerd".into(),
        argv: argv.split_whitespace().map(str::to_owned).collect(),
        start: Some(pid as u64),
        ns,
    }
}

const DEBIAN_UNIT: &str = "[Unit]\nDescription=Docker Application Container Engine\n[Service]\nType=notify\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\nExecReload=/bin/kill -s HUP $MAINPID\n";

#[test]
fn docker_systemd_main_pid_and_drop_in_source() {
    let f = Fixture::new();
    f.mkdir("/run/systemd/system")
        .write("/usr/sbin/dockerd", "")
        .write("/lib/systemd/system/docker.service", DEBIAN_UNIT)
        .write(
            "/etc/systemd/system/docker.service.d/exp.conf",
            "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// \\\n  --experimental\n",
        );
    let show = parse_systemctl_show(
        "LoadState=loaded\nMainPID=812\nExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// --experimental ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=812 ; code=(null) ; status=0/0 }\nFragmentPath=/lib/systemd/system/docker.service\nDropInPaths=/etc/systemd/system/docker.service.d/exp.conf\n",
    );
    let seen = Observed {
        me: me(),
        procs: vec![
            // A containerised docker host's dockerd: older, root's, visible.
            proc(40, 0, ns("4026532300"), "/usr/sbin/dockerd -H fd://"),
            // Older, ours, but not the one systemd runs (started by hand).
            proc(700, 0, me(), "/usr/sbin/dockerd -H unix:///tmp/other.sock"),
            proc(812, 0, me(), "/usr/sbin/dockerd -H fd:// --experimental"),
        ],
        systemd: Some(Ok(show)),
    };
    let d = f.daemon(&seen);
    assert_eq!(d.pid, Some(812));
    assert_eq!(d.init, Init::Systemd);
    assert_eq!(d.kind, Kind::Rootful);
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("ExecStart of docker.service (drop-in /etc/systemd/system/docker.service.d/exp.conf)")
    );
    assert_eq!(d.config_file, DEFAULT_CONFIG);
    assert_eq!(d.dockerd.as_deref(), Some("/usr/sbin/dockerd"));
    assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    assert!(d.notes[0].starts_with("dockerd pid 40 runs in another mount namespace"));
    assert_eq!(
        d.restart_command().unwrap(),
        ["systemctl", "restart", "docker"]
    );
}

#[test]
fn docker_systemd_unit_only_systemd_knows_where() {
    // The unit in /usr/local/lib, a drop-in under /run: systemctl names
    // them; DOCKER_OPTS counts because the ExecStart expands it.
    let f = Fixture::new();
    f.mkdir("/run/systemd/system")
        .write(
            "/usr/local/lib/systemd/system/docker.service",
            "[Service]\nExecStart=/opt/docker/bin/dockerd -H fd:// $DOCKER_OPTS\n",
        )
        .write(
            "/run/systemd/system/docker.service.d/limits.conf",
            "[Service]\nLimitNOFILE=1048576\n",
        )
        .write("/usr/local/bin/dockerd", "")
        .write("/opt/docker/bin/dockerd", "")
        .write(
            "/etc/default/docker",
            "DOCKER_OPTS=\"--experimental --config-file /srv/docker.json\"\n",
        );
    let show = parse_systemctl_show(
        "LoadState=loaded\nMainPID=0\nExecStart={ path=/opt/docker/bin/dockerd ; argv[]=/opt/docker/bin/dockerd -H fd:// $DOCKER_OPTS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\nFragmentPath=/usr/local/lib/systemd/system/docker.service\nDropInPaths=/run/systemd/system/docker.service.d/limits.conf\n",
    );
    let d = f.daemon(&Observed {
        me: me(),
        procs: vec![],
        systemd: Some(Ok(show)),
    });
    assert_eq!(d.pid, None);
    assert_eq!(d.init, Init::Systemd);
    assert_eq!(
        d.argv,
        [
            "/opt/docker/bin/dockerd",
            "-H",
            "fd://",
            "--experimental",
            "--config-file",
            "/srv/docker.json"
        ]
    );
    assert_eq!(d.config_file, "/srv/docker.json");
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("DOCKER_OPTS in /etc/default/docker")
    );
    // The unit's binary, not the first of the usual places.
    assert_eq!(d.dockerd.as_deref(), Some("/opt/docker/bin/dockerd"));
    assert!(d.notes.is_empty(), "{:?}", d.notes);
}

#[test]
fn docker_systemd_ignores_docker_opts_it_does_not_expand() {
    // docker-ce's unit has no $DOCKER_OPTS: /etc/default/docker is dead.
    let f = Fixture::new();
    f.mkdir("/run/systemd/system")
        .write(
            "/lib/systemd/system/docker.service",
            "[Service]\nExecStart=/usr/bin/dockerd -H fd://\n",
        )
        .write("/etc/default/docker", "DOCKER_OPTS=\"--experimental\"\n");
    let show = parse_systemctl_show(
        "LoadState=loaded\nMainPID=0\nExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\nFragmentPath=/lib/systemd/system/docker.service\nDropInPaths=\n",
    );
    let d = f.daemon(&Observed {
        systemd: Some(Ok(show.clone())),
        ..Observed::default()
    });
    assert_eq!(d.experimental_flag, None);
    assert_eq!(d.argv, ["/usr/bin/dockerd", "-H", "fd://"]);
    // A dockerd with the flag that systemd did not start: the flag is its
    // command line's, not the dead DOCKER_OPTS's.
    let d = f.daemon(&Observed {
        me: me(),
        procs: vec![proc(55, 0, me(), "/usr/bin/dockerd --experimental")],
        systemd: Some(Ok(show)),
    });
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("the command line of dockerd pid 55")
    );
}

#[test]
fn docker_systemd_loaded_differs_from_disk() {
    let f = Fixture::new();
    f.mkdir("/run/systemd/system").write(
        "/lib/systemd/system/docker.service",
        "[Service]\nExecStart=/usr/bin/dockerd -H fd:// --experimental\n",
    );
    let show = parse_systemctl_show(
        "LoadState=loaded\nMainPID=0\nExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\nFragmentPath=/lib/systemd/system/docker.service\nDropInPaths=\n",
    );
    let d = f.daemon(&Observed {
        systemd: Some(Ok(show)),
        ..Observed::default()
    });
    // What systemd will run is what counts.
    assert_eq!(d.experimental_flag, None);
    assert!(
        d.notes.iter().any(|n| n.contains("daemon-reload")),
        "{:?}",
        d.notes
    );
}

#[test]
fn docker_systemctl_failing_falls_back_to_the_files() {
    let f = Fixture::new();
    f.mkdir("/run/systemd/system").write(
        "/etc/systemd/system/docker.service",
        "[Service]\nExecStart=-/usr/bin/dockerd \\\n    -H fd:// \\\n    --experimental\n",
    );
    let d = f.daemon(&Observed {
        systemd: Some(Err("System has not been booted with systemd".into())),
        ..Observed::default()
    });
    assert_eq!(d.init, Init::Systemd);
    assert_eq!(
        d.argv,
        ["/usr/bin/dockerd", "-H", "fd://", "--experimental"]
    );
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("ExecStart of docker.service (/etc/systemd/system/docker.service)")
    );
    assert!(
        d.notes[0].starts_with("systemctl did not answer"),
        "{:?}",
        d.notes
    );
}

#[test]
fn docker_no_docker_service_means_the_init_script() {
    // systemd answered: no docker.service. The SysV script and its
    // defaults file then say how docker starts.
    let f = Fixture::new();
    f.mkdir("/run/systemd/system")
        .write("/etc/init.d/docker", "#!/bin/sh\n")
        .write("/usr/bin/dockerd", "")
        .write(
            "/etc/default/docker",
            "DOCKER_OPTS=\"--experimental --config-file /etc/docker/alt.json\"\n",
        )
        .write("/etc/conf.d/docker", "DOCKER_OPTS=\"--bogus\"\n");
    let d = f.daemon(&Observed {
        systemd: Some(Ok(parse_systemctl_show("LoadState=not-found\nMainPID=0\n"))),
        ..Observed::default()
    });
    assert_eq!(d.init, Init::SysV);
    assert_eq!(
        d.argv,
        [
            "/usr/bin/dockerd",
            "--experimental",
            "--config-file",
            "/etc/docker/alt.json"
        ]
    );
    assert_eq!(d.config_file, "/etc/docker/alt.json");
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("DOCKER_OPTS in /etc/default/docker")
    );
    assert_eq!(d.flags_for_validate(), ["--experimental"]);
    f.write("/etc/init.d/docker", "#!/sbin/openrc-run\n");
    let d = f.daemon(&Observed::default());
    assert_eq!(d.init, Init::OpenRc);
    assert_eq!(d.argv, ["/usr/bin/dockerd", "--bogus"]);
    assert_eq!(d.experimental_flag, None);
    // A masked docker.service: systemd will not start it, whatever is on disk.
    f.write("/lib/systemd/system/docker.service", DEBIAN_UNIT);
    let d = f.daemon(&Observed {
        systemd: Some(Ok(parse_systemctl_show(
            "LoadState=masked\nMainPID=0\nFragmentPath=/dev/null\n",
        ))),
        ..Observed::default()
    });
    assert_eq!(d.init, Init::OpenRc);
    assert!(d.notes[0].contains("masked"), "{:?}", d.notes);
}

#[test]
fn docker_started_by_hand() {
    let f = Fixture::new();
    let d = f.daemon(&Observed {
        me: me(),
        procs: vec![proc(77, 0, me(), "/opt/bin/dockerd --experimental")],
        systemd: None,
    });
    assert_eq!(d.init, Init::Unmanaged);
    assert_eq!(d.pid, Some(77));
    assert_eq!(d.restart_command(), None);
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("the command line of dockerd pid 77")
    );
    // Only a rootless user's docker runs.
    let mut rootless_ns = ns("4026532777");
    rootless_ns.user = Some("user:[4026532778]".into());
    let d = f.daemon(&Observed {
        me: me(),
        procs: vec![proc(90, 1000, rootless_ns, "dockerd")],
        systemd: None,
    });
    assert_eq!(d.pid, Some(90));
    assert_eq!(d.kind, Kind::Rootless);
    let d = f.daemon(&Observed {
        me: me(),
        procs: vec![proc(91, 0, me(), "/snap/docker/2976/bin/dockerd --config-file /var/snap/docker/current/config/daemon.json")],
        systemd: None,
    });
    assert_eq!(d.kind, Kind::Snap);
    assert_eq!(d.config_file, "/var/snap/docker/current/config/daemon.json");
}

#[test]
fn docker_not_restarted_since_the_flag_was_added() {
    let f = Fixture::new();
    f.mkdir("/run/systemd/system").write(
        "/lib/systemd/system/docker.service",
        "[Service]\nExecStart=/usr/bin/dockerd --experimental\n",
    );
    let show = parse_systemctl_show(
        "LoadState=loaded\nMainPID=300\nExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd --experimental ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=300 ; code=(null) ; status=0/0 }\nFragmentPath=/lib/systemd/system/docker.service\n",
    );
    let d = f.daemon(&Observed {
        me: me(),
        procs: vec![proc(300, 0, me(), "/usr/bin/dockerd")],
        systemd: Some(Ok(show)),
    });
    assert_eq!(d.pid, Some(300));
    // The next start has the flag: daemon.json must not get the key too.
    assert_eq!(
        d.experimental_flag.as_deref(),
        Some("ExecStart of docker.service (/lib/systemd/system/docker.service)")
    );
    assert!(d.notes[0].contains("not restarted"), "{:?}", d.notes);
}

/// On this machine: whatever dockerds other test hosts run here live in
/// their own namespaces; discovery finds none of ours and does not panic.
/// Then real processes named dockerd: one under `unshare -m`, one under
/// `unshare -p -f` (both ignored), one beside us (chosen).
#[test]
fn docker_discovery_on_this_machine() {
    let host = Host::new(None, Box::new(SystemRunner), Term::plain()).unwrap();
    let d = discover(&host);
    assert_eq!(d.pid, None, "{d:?}");
    let seen = observe(&host);
    assert!(
        seen.me
            .pid
            .as_deref()
            .is_some_and(|l| l.starts_with("pid:["))
    );
    assert!(
        seen.me
            .mnt
            .as_deref()
            .is_some_and(|l| l.starts_with("mnt:["))
    );
    assert!(seen.me.nspid_depth.is_some());
    assert!(!seen.me.mount_ids.is_empty());

    if !nix::unistd::geteuid().is_root() || !host.fs.exists("/usr/bin/unshare") {
        eprintln!("not root or no unshare: the namespace half of this test is skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("dockerd");
    std::fs::copy("/bin/sleep", &fake).unwrap();
    let fake = fake.to_str().unwrap().to_string();
    let other_mnt = Child::spawn(&["unshare", "-m", &fake, "60"]);
    let holder = Child::spawn(&["unshare", "-p", "-f", "--kill-child", &fake, "60"]);
    let other_mnt_pid = other_mnt.wait_dockerd(&host, |p| p.pid == other_mnt.pid());
    let other_pid_pid = holder.wait_dockerd(&host, |p| ppid(&host, p.pid) == Some(holder.pid()));
    let (me, procs) = procs::observe(&host, None);
    let c = choose_dockerd(&procs, &me, None);
    assert_eq!(c.pid, None, "{c:?}");
    let note = |pid: i32, what: &str| {
        c.notes
            .iter()
            .any(|n| n.starts_with(&format!("dockerd pid {pid} runs in another {what}")))
    };
    assert!(note(other_mnt_pid, "mount namespace"), "{c:?}");
    assert!(note(other_pid_pid, "pid namespace"), "{c:?}");
    let ours = Child::spawn(&[&fake, "60"]);
    let ours_pid = ours.wait_dockerd(&host, |p| p.pid == ours.pid());
    let found = discover_with_notes(&host);
    let d = &found.daemon;
    assert_eq!(d.pid, Some(ours_pid), "{found:?}");
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.starts_with(&format!("dockerd pid {other_mnt_pid} "))),
        "{found:?}"
    );
    assert_eq!(d.argv, [fake.as_str(), "60"]);
    assert_eq!(d.kind, Kind::Rootful);
}

fn ppid(host: &Host, pid: i32) -> Option<i32> {
    host.fs
        .read_quiet(&format!("/proc/{pid}/status"))?
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

/// A child process killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Child {
    fn spawn(argv: &[&str]) -> Child {
        Child(
            std::process::Command::new(argv[0])
                .args(&argv[1..])
                .spawn()
                .unwrap(),
        )
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// The pid of the process named dockerd that `is_it` picks, once it has
    /// exec'd (up to 10 s).
    fn wait_dockerd(&self, host: &Host, is_it: impl Fn(&ProcInfo) -> bool) -> i32 {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (_, procs) = procs::observe(host, None);
            if let Some(p) = procs.iter().find(|p| is_it(p)) {
                return p.pid;
            }
            assert!(
                std::time::Instant::now() < until,
                "the fake dockerd of pid {} did not show up",
                self.pid()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
