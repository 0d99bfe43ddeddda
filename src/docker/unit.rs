//! docker.service as systemd sees it: `systemctl show` parsed (MainPID, the
//! effective ExecStart, the fragment and drop-ins wherever they live), and,
//! only when systemctl cannot answer, the unit files read by hand the way
//! systemd reads them (its search path, drop-in masking, `\` continuations,
//! `-@:+!` prefixes, quoting).

use crate::host::{Cmd, Host};
use std::collections::BTreeMap;
use std::time::Duration;

/// The unit dockpoint manages docker through.
pub const UNIT: &str = "docker.service";

/// The properties asked of systemd.
pub const SHOW_PROPERTIES: &[&str] = &[
    "MainPID",
    "ExecStart",
    "FragmentPath",
    "DropInPaths",
    "LoadState",
];

/// systemd's search path for system units, highest priority first
/// (systemd.unit(5)), with Debian's split-/usr `/lib/systemd/system`.
pub const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// One command of an `Exec*=` setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecCommand {
    /// The program run.
    pub path: String,
    /// Its argv; argv[0] is the path unless the line used the `@` prefix.
    pub argv: Vec<String>,
}

impl ExecCommand {
    /// The program followed by its arguments (argv[0] replaced by the path).
    pub fn command_line(&self) -> Vec<String> {
        std::iter::once(self.path.clone())
            .chain(self.argv.iter().skip(1).cloned())
            .collect()
    }

    fn runs_dockerd(&self) -> bool {
        let base = |s: &str| s.rsplit('/').next().unwrap_or_default().to_string();
        base(&self.path) == "dockerd" || self.argv.first().is_some_and(|a| base(a) == "dockerd")
    }
}

/// What `systemctl show docker.service` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitInfo {
    /// `loaded`, `not-found`, `masked`, ...
    pub load_state: String,
    /// The main process, when the unit runs (systemd prints 0 otherwise).
    pub main_pid: Option<i32>,
    /// The effective `ExecStart=` commands, drop-ins applied.
    pub exec_start: Vec<ExecCommand>,
    /// The unit file, wherever it lives.
    pub fragment_path: Option<String>,
    /// The drop-ins, in the order systemd applies them.
    pub drop_in_paths: Vec<String>,
}

impl UnitInfo {
    /// systemd has the unit (a unit file, or one a generator made).
    pub fn loaded(&self) -> bool {
        self.load_state == "loaded" || (self.load_state.is_empty() && self.fragment_path.is_some())
    }

    /// The command that starts dockerd: the ExecStart= entry running a
    /// `dockerd`, else the first.
    pub fn dockerd_command(&self) -> Option<&ExecCommand> {
        self.exec_start
            .iter()
            .find(|c| c.runs_dockerd())
            .or(self.exec_start.first())
    }

    /// The unit's files in the order systemd reads them.
    pub fn files(&self) -> Vec<String> {
        self.fragment_path
            .iter()
            .chain(self.drop_in_paths.iter())
            .cloned()
            .collect()
    }
}

/// `systemctl show docker.service -p ...`.
pub fn show_command() -> Cmd {
    let mut cmd = Cmd::new("systemctl", &["show", UNIT, "--no-pager"])
        .timeout(Duration::from_secs(10))
        .env("LC_ALL", "C");
    for p in SHOW_PROPERTIES {
        cmd = cmd.arg("-p").arg(*p);
    }
    cmd
}

/// Ask systemd about docker.service; an error says why it could not answer.
pub fn systemctl_show(host: &Host) -> Result<UnitInfo, String> {
    let cmd = show_command();
    match host.run(&cmd) {
        Ok(out) if out.success() => Ok(parse_systemctl_show(&out.stdout)),
        Ok(out) => Err(format!(
            "`{}` failed (exit {}): {}",
            cmd.line(),
            out.status.map_or("by a signal".into(), |c| c.to_string()),
            out.tail(3)
        )),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Parse `systemctl show` output (`Key=value` lines).
pub fn parse_systemctl_show(text: &str) -> UnitInfo {
    let mut u = UnitInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "LoadState" => u.load_state = value.to_string(),
            "MainPID" => u.main_pid = value.parse().ok().filter(|p: &i32| *p > 0),
            "ExecStart" => u.exec_start.extend(parse_exec_property(value)),
            "FragmentPath" => u.fragment_path = (!value.is_empty()).then(|| value.to_string()),
            "DropInPaths" => {
                u.drop_in_paths = value.split_whitespace().map(str::to_owned).collect();
            }
            _ => {}
        }
    }
    u
}

/// The field names systemctl prints inside an `Exec*=` entry.
const EXEC_FIELDS: &[&str] = &[
    "path",
    "argv[]",
    "ignore_errors",
    "flags",
    "start_time",
    "stop_time",
    "pid",
    "code",
    "status",
];

/// The commands of one `ExecStart=` value: one or more
/// `{ path=... ; argv[]=... ; ignore_errors=no ; ... }` entries. systemctl
/// joins argv with single spaces and no quoting, so words are split on
/// whitespace (an argument that contained a space cannot be recovered here;
/// the live command line in /proc is exact).
pub fn parse_exec_property(value: &str) -> Vec<ExecCommand> {
    let mut out = Vec::new();
    for entry in value.split("{ path=").skip(1) {
        let entry = entry.trim_end();
        let entry = entry.strip_suffix('}').unwrap_or(entry).trim_end();
        // Fields are separated by " ; "; a piece that does not start with a
        // known field name belongs to the previous field (an argv with " ; ").
        let mut fields: Vec<(String, String)> = vec![("path".into(), String::new())];
        for (i, piece) in entry.split(" ; ").enumerate() {
            let known = piece
                .split_once('=')
                .filter(|(k, _)| EXEC_FIELDS.contains(k))
                .map(|(k, v)| (k.to_string(), v.to_string()));
            match (i, known) {
                (0, _) => fields[0].1 = piece.to_string(),
                (_, Some(kv)) => fields.push(kv),
                (_, None) => {
                    let last = fields.last_mut().expect("path field");
                    last.1.push_str(" ; ");
                    last.1.push_str(piece);
                }
            }
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.trim());
        let path = get("path").unwrap_or_default().to_string();
        let argv: Vec<String> = get("argv[]")
            .map(|a| a.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        if path.is_empty() && argv.is_empty() {
            continue;
        }
        let argv = if argv.is_empty() {
            vec![path.clone()]
        } else {
            argv
        };
        let path = if path.is_empty() {
            argv[0].clone()
        } else {
            path
        };
        out.push(ExecCommand { path, argv });
    }
    out
}

/// Split a command line the way systemd does for `Exec*=`: whitespace
/// separates words; `"..."` and `'...'` quote; backslash escapes (C escapes
/// too). A lone unquoted `;` ends the command (systemd's separator).
pub fn split_exec_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut w = String::new();
        let mut quoted = false;
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => {
                    quote = Some(c);
                    quoted = true;
                }
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => {
                    let e = chars.next()?;
                    w.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'a' => '\x07',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'v' => '\x0b',
                        'x' => {
                            let hex: String = [chars.next()?, chars.next()?].iter().collect();
                            char::from(u8::from_str_radix(&hex, 16).ok()?)
                        }
                        other => other,
                    });
                    quoted = true;
                }
                (_, c) => w.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        if w == ";" && !quoted {
            break;
        }
        words.push(w);
    }
    Some(words)
}

/// One `ExecStart=` value from a unit file: the `@ - : + !` prefixes (any
/// order; `@` makes the second word argv[0]) and the words.
pub fn parse_exec_start_line(value: &str) -> Option<ExecCommand> {
    let mut rest = value.trim();
    let mut at = false;
    while let Some(c) = rest.chars().next() {
        match c {
            '@' => at = true,
            '-' | ':' | '+' | '!' => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    let words = split_exec_words(rest)
        .unwrap_or_else(|| rest.split_whitespace().map(str::to_owned).collect());
    let (path, argv) = match (at, words.as_slice()) {
        (_, []) => return None,
        (true, [path, argv0, more @ ..]) => {
            let mut argv = vec![argv0.clone()];
            argv.extend(more.iter().cloned());
            (path.clone(), argv)
        }
        (_, [path, ..]) => (path.clone(), words.clone()),
    };
    Some(ExecCommand { path, argv })
}

/// The logical lines of a unit file: `\` at the end of a line (after
/// trailing whitespace, and not itself escaped) joins the next line with a
/// space; comment lines (`#`, `;`) are dropped, inside a continuation too.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for raw in text.lines() {
        let l = raw.trim();
        if l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let mut escaped = false;
        for c in l.chars() {
            escaped = !escaped && c == '\\';
        }
        let piece = if escaped { &l[..l.len() - 1] } else { l };
        let joined = match cur.take() {
            Some(mut c) => {
                c.push_str(piece);
                c
            }
            None => piece.to_string(),
        };
        if escaped {
            cur = Some(joined + " ");
        } else {
            out.push(joined);
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

/// The effective `ExecStart=` commands of a unit file and its drop-ins,
/// read in order: each adds a command, an empty `ExecStart=` resets the
/// list. Each command comes with the file that set it.
fn exec_starts(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut cur: Vec<(String, String)> = Vec::new();
    for (path, text) in files {
        let mut in_service = false;
        for line in logical_lines(text) {
            if line.starts_with('[') {
                in_service = line.trim_end() == "[Service]";
                continue;
            }
            if !in_service {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.trim() != "ExecStart" {
                continue;
            }
            let v = v.trim();
            if v.is_empty() {
                cur.clear();
            } else {
                cur.push((v.to_string(), path.clone()));
            }
        }
    }
    cur
}

/// The effective `ExecStart=` of a unit and its drop-ins (an empty
/// `ExecStart=` resets), with the file it came from: the one running
/// dockerd, else the first. The value is as written, prefixes included.
pub fn exec_start(files: &[(String, String)]) -> Option<(String, String)> {
    let all = exec_starts(files);
    all.iter()
        .find(|(v, _)| parse_exec_start_line(v).is_some_and(|c| c.runs_dockerd()))
        .or(all.first())
        .cloned()
}

/// [`exec_start`], parsed.
pub fn exec_start_command(files: &[(String, String)]) -> Option<(ExecCommand, String)> {
    let (line, file) = exec_start(files)?;
    parse_exec_start_line(&line).map(|c| (c, file))
}

/// The unit file and drop-ins of docker.service as systemd would find them,
/// read by hand (only when systemctl cannot answer): the fragment from the
/// first directory of the search path that has it; drop-ins
/// (`docker.service.d/*.conf`, and `service.d/*.conf` for all services)
/// from every directory, a name in a higher-priority directory masking the
/// same name below, applied in name order. A unit or drop-in that is not a
/// regular file (a link to /dev/null) masks without content.
pub fn unit_files(host: &Host) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in UNIT_DIRS {
        let p = format!("{dir}/{UNIT}");
        if host.fs.exists(&p) {
            if let Some(t) = host.fs.read_quiet(&p) {
                out.push((p, t));
            }
            break;
        }
    }
    let mut drop_ins: BTreeMap<String, Option<(String, String)>> = BTreeMap::new();
    for dir in UNIT_DIRS {
        for sub in [format!("{UNIT}.d"), "service.d".to_string()] {
            let d = format!("{dir}/{sub}");
            for name in host.fs.read_dir(&d).unwrap_or_default() {
                if !name.ends_with(".conf") || drop_ins.contains_key(&name) {
                    continue;
                }
                let p = format!("{d}/{name}");
                let text = host.fs.read_quiet(&p);
                drop_ins.insert(name, text.map(|t| (p, t)));
            }
        }
    }
    out.extend(drop_ins.into_values().flatten());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(path: &str, argv: &[&str]) -> ExecCommand {
        ExecCommand {
            path: path.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }
    }

    const DEBIAN: &str = "LoadState=loaded\nMainPID=812\nExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS ; ignore_errors=no ; start_time=[Tue 2025-11-25 09:00:00 UTC] ; stop_time=[n/a] ; pid=812 ; code=(null) ; status=0/0 }\nFragmentPath=/lib/systemd/system/docker.service\nDropInPaths=\n";

    #[test]
    fn docker_systemctl_show_debian() {
        let u = parse_systemctl_show(DEBIAN);
        assert!(u.loaded());
        assert_eq!(u.main_pid, Some(812));
        assert_eq!(
            u.exec_start,
            [cmd(
                "/usr/sbin/dockerd",
                &["/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"]
            )]
        );
        assert_eq!(
            u.fragment_path.as_deref(),
            Some("/lib/systemd/system/docker.service")
        );
        assert!(u.drop_in_paths.is_empty());
        assert_eq!(u.files(), ["/lib/systemd/system/docker.service"]);
    }

    /// Verbatim from systemd 257 (Debian 13) with docker 26.1.5, booted on
    /// this machine kind: the packaged unit, then a drop-in
    /// `ExecStart=-@/usr/sbin/dockerd dockerd \` + continuation lines.
    #[test]
    fn docker_systemctl_show_real_systemd_257() {
        let packaged = parse_systemctl_show(concat!(
            "MainPID=132\n",
            "ExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS ; ignore_errors=no ; start_time=[Thu 2026-11-26 13:31:36 UTC] ; stop_time=[n/a] ; pid=132 ; code=(null) ; status=0/0 }\n",
            "LoadState=loaded\n",
            "FragmentPath=/usr/lib/systemd/system/docker.service\n",
            "DropInPaths=\n",
        ));
        assert_eq!(
            packaged,
            UnitInfo {
                load_state: "loaded".into(),
                main_pid: Some(132),
                exec_start: vec![cmd(
                    "/usr/sbin/dockerd",
                    &[
                        "/usr/sbin/dockerd",
                        "-H",
                        "fd://",
                        "--containerd=/run/containerd/containerd.sock",
                        "$DOCKER_OPTS"
                    ]
                )],
                fragment_path: Some("/usr/lib/systemd/system/docker.service".into()),
                drop_in_paths: vec![],
            }
        );
        let dropped = parse_systemctl_show(concat!(
            "MainPID=285\n",
            "ExecStart={ path=/usr/sbin/dockerd ; argv[]=dockerd -H fd:// --containerd=/run/containerd/containerd.sock --experimental ; ignore_errors=yes ; start_time=[Thu 2026-11-26 13:31:38 UTC] ; stop_time=[n/a] ; pid=285 ; code=(null) ; status=0/0 }\n",
            "LoadState=loaded\n",
            "FragmentPath=/usr/lib/systemd/system/docker.service\n",
            "DropInPaths=/etc/systemd/system/docker.service.d/exp.conf /run/systemd/system/docker.service.d/run.conf\n",
        ));
        assert_eq!(dropped.main_pid, Some(285));
        let exec = cmd(
            "/usr/sbin/dockerd",
            &[
                "dockerd",
                "-H",
                "fd://",
                "--containerd=/run/containerd/containerd.sock",
                "--experimental",
            ],
        );
        assert_eq!(dropped.exec_start, std::slice::from_ref(&exec));
        assert_eq!(
            dropped.drop_in_paths,
            [
                "/etc/systemd/system/docker.service.d/exp.conf",
                "/run/systemd/system/docker.service.d/run.conf"
            ]
        );
        // The drop-in as written parses to the same command.
        let files = vec![(
            "/etc/systemd/system/docker.service.d/exp.conf".to_string(),
            "[Service]\nExecStart=\nExecStart=-@/usr/sbin/dockerd dockerd \\\n  -H fd:// \\\n  --containerd=/run/containerd/containerd.sock --experimental\n".to_string(),
        )];
        assert_eq!(exec_start_command(&files).unwrap().0, exec);
    }

    #[test]
    fn docker_systemctl_show_stopped_and_missing() {
        let stopped = parse_systemctl_show(
            "MainPID=0\nExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\nFragmentPath=/usr/lib/systemd/system/docker.service\nDropInPaths=\nLoadState=loaded\n",
        );
        assert_eq!(stopped.main_pid, None);
        assert!(stopped.loaded());
        assert_eq!(
            stopped.dockerd_command().unwrap().command_line(),
            [
                "/usr/bin/dockerd",
                "-H",
                "fd://",
                "--containerd=/run/containerd/containerd.sock"
            ]
        );
        let missing =
            parse_systemctl_show("MainPID=0\nFragmentPath=\nDropInPaths=\nLoadState=not-found\n");
        assert!(!missing.loaded());
        assert_eq!(missing.fragment_path, None);
        assert!(missing.exec_start.is_empty());
        assert!(!parse_systemctl_show("LoadState=masked\n").loaded());
    }

    #[test]
    fn docker_systemctl_show_drop_ins_anywhere() {
        // Units and drop-ins in /usr/local/lib, /run and system.control: the
        // places the old hand-written search missed.
        let u = parse_systemctl_show(
            "MainPID=4242\nExecStart={ path=/usr/local/bin/dockerd ; argv[]=/usr/local/bin/dockerd --experimental ; ignore_errors=yes ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\nFragmentPath=/usr/local/lib/systemd/system/docker.service\nDropInPaths=/etc/systemd/system.control/docker.service.d/50-MemoryMax.conf /run/systemd/system/docker.service.d/exp.conf /etc/systemd/system/docker.service.d/z.conf\nLoadState=loaded\n",
        );
        assert_eq!(u.main_pid, Some(4242));
        assert_eq!(
            u.files(),
            [
                "/usr/local/lib/systemd/system/docker.service",
                "/etc/systemd/system.control/docker.service.d/50-MemoryMax.conf",
                "/run/systemd/system/docker.service.d/exp.conf",
                "/etc/systemd/system/docker.service.d/z.conf",
            ]
        );
        assert_eq!(
            u.exec_start,
            [cmd(
                "/usr/local/bin/dockerd",
                &["/usr/local/bin/dockerd", "--experimental"]
            )]
        );
    }

    #[test]
    fn docker_systemctl_show_prefixes_and_many_commands() {
        // `@` changes argv[0]; systemctl shows path and argv apart. `-`
        // shows as ignore_errors=yes; ExecStartEx-style flags= too.
        let u = parse_systemctl_show(concat!(
            "ExecStart={ path=/bin/true ; argv[]=/bin/true ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n",
            "ExecStart={ path=/usr/bin/dockerd ; argv[]=docker-daemon --config-file /etc/docker/alt.json ; flags=ignore-failure ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 } { path=/bin/echo ; argv[]=/bin/echo a ; b ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n",
        ));
        assert_eq!(u.exec_start.len(), 3);
        assert_eq!(
            u.exec_start[2],
            cmd("/bin/echo", &["/bin/echo", "a", ";", "b"])
        );
        let d = u.dockerd_command().unwrap();
        assert_eq!(
            d,
            &cmd(
                "/usr/bin/dockerd",
                &["docker-daemon", "--config-file", "/etc/docker/alt.json"]
            )
        );
        assert_eq!(
            d.command_line(),
            ["/usr/bin/dockerd", "--config-file", "/etc/docker/alt.json"]
        );
    }

    #[test]
    fn docker_exec_start_line_prefixes_and_quoting() {
        for (line, path, argv) in [
            (
                "/usr/bin/dockerd -H fd://",
                "/usr/bin/dockerd",
                &["/usr/bin/dockerd", "-H", "fd://"][..],
            ),
            (
                "-/usr/bin/dockerd --experimental",
                "/usr/bin/dockerd",
                &["/usr/bin/dockerd", "--experimental"][..],
            ),
            (
                "@/usr/bin/dockerd dockerd --experimental",
                "/usr/bin/dockerd",
                &["dockerd", "--experimental"][..],
            ),
            (
                "-@+/usr/bin/dockerd my-dockerd -D",
                "/usr/bin/dockerd",
                &["my-dockerd", "-D"][..],
            ),
            (
                "!!/usr/bin/dockerd --experimental",
                "/usr/bin/dockerd",
                &["/usr/bin/dockerd", "--experimental"][..],
            ),
            (
                ":/usr/bin/dockerd \"--config-file=/etc/my docker/d.json\" 'a b' c\\ d \\x41",
                "/usr/bin/dockerd",
                &[
                    "/usr/bin/dockerd",
                    "--config-file=/etc/my docker/d.json",
                    "a b",
                    "c d",
                    "A",
                ][..],
            ),
            (
                "/usr/bin/dockerd -D ; /bin/true",
                "/usr/bin/dockerd",
                &["/usr/bin/dockerd", "-D"][..],
            ),
            (
                "/usr/bin/dockerd \";\"",
                "/usr/bin/dockerd",
                &["/usr/bin/dockerd", ";"][..],
            ),
        ] {
            assert_eq!(parse_exec_start_line(line), Some(cmd(path, argv)), "{line}");
        }
        assert_eq!(parse_exec_start_line("-"), None);
        // An unclosed quote: systemd refuses the line; words are still seen.
        assert_eq!(
            parse_exec_start_line("/usr/bin/dockerd \"--experimental")
                .unwrap()
                .argv,
            ["/usr/bin/dockerd", "\"--experimental"]
        );
    }

    #[test]
    fn docker_unit_file_continuations_and_comments() {
        let files = vec![(
            "/lib/systemd/system/docker.service".to_string(),
            concat!(
                "[Unit]\nDescription=x\nExecStart=/usr/bin/dockerd --wrong-section\n",
                "[Service]\n",
                "ExecStart = /usr/bin/dockerd \\\n",
                "    -H fd:// \\\n",
                "# a comment inside the continuation\n",
                "    --experimental   \\   \n",
                "    --containerd=/run/containerd/containerd.sock\n",
                "ExecReload=/bin/kill -s HUP $MAINPID\n",
                "[Install]\nExecStart=/usr/bin/dockerd --wrong-section\n",
            )
            .to_string(),
        )];
        let (c, file) = exec_start_command(&files).unwrap();
        assert_eq!(file, "/lib/systemd/system/docker.service");
        assert_eq!(
            c.argv,
            [
                "/usr/bin/dockerd",
                "-H",
                "fd://",
                "--experimental",
                "--containerd=/run/containerd/containerd.sock"
            ]
        );
        // An escaped backslash at the end is not a continuation.
        assert_eq!(logical_lines("a=b \\\\\nc=d\n"), ["a=b \\\\", "c=d"]);
    }

    #[test]
    fn docker_exec_start_with_drop_in_reset() {
        let files = vec![
            (
                "/lib/systemd/system/docker.service".to_string(),
                "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\n".to_string(),
            ),
            (
                "/etc/systemd/system/docker.service.d/exp.conf".to_string(),
                "[Service]\nExecStart=\nExecStart=-/usr/sbin/dockerd -H fd:// --experimental\n"
                    .to_string(),
            ),
        ];
        let (line, file) = exec_start(&files).unwrap();
        assert!(line.ends_with("--experimental"));
        assert!(line.starts_with('-'));
        assert!(file.ends_with("exp.conf"));
        assert_eq!(
            exec_start(&files[..1]).unwrap().1,
            "/lib/systemd/system/docker.service"
        );
        // A drop-in that only resets: no ExecStart at all.
        let reset_only = vec![
            files[0].clone(),
            ("/x.conf".to_string(), "[Service]\nExecStart=\n".to_string()),
        ];
        assert_eq!(exec_start(&reset_only), None);
    }

    #[test]
    fn docker_unit_files_by_hand_follow_the_search_path() {
        use crate::host::{Host, RecordingRunner, Term};
        let t = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let f = t.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, s).unwrap();
        };
        w(
            "/lib/systemd/system/docker.service",
            "[Service]\nExecStart=/usr/sbin/dockerd\n",
        );
        w(
            "/usr/local/lib/systemd/system/docker.service",
            "[Service]\nExecStart=/usr/local/bin/dockerd -H fd://\n",
        );
        w("/usr/lib/systemd/system/docker.service.d/10-a.conf", "low");
        w("/etc/systemd/system/docker.service.d/10-a.conf", "high");
        w("/run/systemd/system/docker.service.d/20-b.conf", "run");
        w(
            "/etc/systemd/system.control/docker.service.d/05-c.conf",
            "control",
        );
        w(
            "/usr/lib/systemd/system/service.d/30-all.conf",
            "all services",
        );
        w(
            "/etc/systemd/system/docker.service.d/not-a-drop-in.txt",
            "x",
        );
        std::fs::create_dir_all(t.path().join("dev")).unwrap();
        std::os::unix::fs::symlink(
            "/dev/null",
            t.path()
                .join("run/systemd/system/docker.service.d/40-masked.conf"),
        )
        .unwrap();
        w(
            "/usr/lib/systemd/system/docker.service.d/40-masked.conf",
            "masked below",
        );
        let host = Host::new(
            Some(t.path().to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        let files = unit_files(&host);
        let names: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "/usr/local/lib/systemd/system/docker.service",
                    "[Service]\nExecStart=/usr/local/bin/dockerd -H fd://\n"
                ),
                (
                    "/etc/systemd/system.control/docker.service.d/05-c.conf",
                    "control"
                ),
                ("/etc/systemd/system/docker.service.d/10-a.conf", "high"),
                ("/run/systemd/system/docker.service.d/20-b.conf", "run"),
                (
                    "/usr/lib/systemd/system/service.d/30-all.conf",
                    "all services"
                ),
            ]
        );
    }

    #[test]
    fn docker_show_command_asks_for_the_properties() {
        assert_eq!(
            show_command().line(),
            "systemctl show docker.service --no-pager -p MainPID -p ExecStart -p FragmentPath -p DropInPaths -p LoadState"
        );
    }
}
