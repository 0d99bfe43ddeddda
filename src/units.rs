//! The systemd units `dockpoint enable` installs, as data: one template per
//! job, instantiated per container (`systemd-escape`d), and the per-instance
//! drop-ins that carry `--every` and `--keep`. Rendering is pure: the same
//! binary path and settings give the same bytes, so a second `enable`
//! changes nothing.

/// Where dockpoint writes its units (the administrator's directory).
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// Where a package (`make deb`: /usr/lib; `make install`: /usr/local/lib)
/// ships the templates, in systemd's order of precedence after /etc.
pub const VENDOR_DIRS: &[&str] = &["/usr/local/lib/systemd/system", "/usr/lib/systemd/system"];

/// Whether `file` (a template) is installed: dockpoint's own copy in
/// [`UNIT_DIR`] or a package's.
pub fn installed(fs: &crate::rootfs::Root, file: &str) -> bool {
    std::iter::once(UNIT_DIR)
        .chain(VENDOR_DIRS.iter().copied())
        .any(|d| fs.is_file(&format!("{d}/{file}")))
}

/// One unit template.
pub struct Template {
    /// `dockpoint-restore@.service`.
    pub file: &'static str,
    /// What it does, for the plan and `status`.
    pub job: &'static str,
    /// The text; `{bin}` is dockpoint's path.
    pub text: &'static str,
}

/// At boot: restore the newest usable checkpoint, else start fresh. Wants
/// (not Requires) docker, so that a docker restart does not stop it.
pub const RESTORE: Template = Template {
    file: "dockpoint-restore@.service",
    job: "at boot, restore the newest usable checkpoint, else start the container fresh",
    text: "\
# Installed by dockpoint enable; removed by dockpoint disable.
[Unit]
Description=dockpoint: restore docker container %I from its newest usable checkpoint, else start it fresh
After=docker.service
Wants=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={bin} restore %I --yes --or-cold-start
TimeoutStartSec=30min

[Install]
WantedBy=multi-user.target
",
};

/// On a schedule: a new checkpoint (left running), then the old ones
/// pruned (`--keep`: only once the new one is complete, so never zero).
pub const CHECKPOINT: Template = Template {
    file: "dockpoint-checkpoint@.service",
    job: "a fresh checkpoint (left running), then all but the newest KEEP removed",
    text: "\
# Installed by dockpoint enable; removed by dockpoint disable.
[Unit]
Description=dockpoint: refresh the checkpoint of docker container %I
After=docker.service
Wants=docker.service

[Service]
Type=oneshot
Environment=DOCKPOINT_KEEP=2
ExecStart={bin} checkpoint %I --leave-running --yes --keep ${DOCKPOINT_KEEP}
TimeoutStartSec=30min
",
};

pub const TIMER: Template = Template {
    file: "dockpoint-checkpoint@.timer",
    job: "runs dockpoint-checkpoint@ every --every",
    text: "\
# Installed by dockpoint enable; removed by dockpoint disable.
[Unit]
Description=dockpoint: refresh the checkpoint of docker container %I on a schedule

[Timer]
OnBootSec=15min
OnUnitActiveSec=15min

[Install]
WantedBy=timers.target
",
};

/// At shutdown: stopped before docker (ordering After= reverses on stop),
/// its ExecStop checkpoints the container and stops it. The checkpoint
/// runs only when the system is shutting down, not when the unit is
/// stopped by hand or with docker.
pub const SHUTDOWN: Template = Template {
    file: "dockpoint-shutdown@.service",
    job: "at shutdown, before docker stops, a checkpoint that stops the container",
    text: "\
# Installed by dockpoint enable; removed by dockpoint disable.
[Unit]
Description=dockpoint: checkpoint docker container %I when the host shuts down
After=docker.service
Wants=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=DOCKPOINT_KEEP=2
ExecStart=/bin/true
ExecStop={bin} checkpoint %I --yes --only-at-shutdown --keep ${DOCKPOINT_KEEP}
TimeoutStopSec=30min

[Install]
WantedBy=multi-user.target
",
};

pub const TEMPLATES: [&Template; 4] = [&RESTORE, &CHECKPOINT, &TIMER, &SHUTDOWN];

/// A template with dockpoint's path in.
pub fn render(t: &Template, bin: &str) -> String {
    t.text.replace("{bin}", bin)
}

/// The instance unit name: `dockpoint-restore@bela.service`.
pub fn instance(t: &Template, escaped: &str) -> String {
    t.file.replacen("@.", &format!("@{escaped}."), 1)
}

/// The drop-in directory of an instance.
pub fn dropin_dir(t: &Template, escaped: &str) -> String {
    format!("{UNIT_DIR}/{}.d", instance(t, escaped))
}

/// The timer's drop-in: every `every` (a systemd time span).
pub fn timer_dropin(every: &str) -> String {
    format!(
        "# Written by dockpoint enable --every {every}.\n[Timer]\nOnBootSec={every}\nOnUnitActiveSec={every}\n"
    )
}

/// The checkpoint service's drop-in: keep `keep`.
pub fn keep_dropin(keep: u32) -> String {
    format!(
        "# Written by dockpoint enable --keep {keep}.\n[Service]\nEnvironment=DOCKPOINT_KEEP={keep}\n"
    )
}

/// The name of each drop-in file dockpoint writes.
pub const DROPIN: &str = "dockpoint.conf";

/// systemd's time span, as `--every` takes it: a number and a unit
/// (`30s`, `1min`, `15min`, `2h`, `1d`), at least a minute's worth of
/// seconds (30 s). Pure.
pub fn parse_every(s: &str) -> Result<String, String> {
    let t = s.trim();
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let unit = &t[digits.len()..];
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("--every {s:?}: give a number and a unit, e.g. 15min, 1h"))?;
    let secs = match unit {
        "s" | "sec" => n,
        "m" | "min" => n * 60,
        "h" | "hr" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(format!(
                "--every {s:?}: the unit must be s, min, h or d (e.g. 15min)"
            ));
        }
    };
    if secs < 30 {
        return Err(format!(
            "--every {s:?}: at least 30s (each checkpoint freezes the container)"
        ));
    }
    Ok(format!("{n}{unit}"))
}

/// `systemd-escape`'s escaping of an instance name: `/` becomes `-`,
/// and bytes other than ASCII alphanumerics, `:`, `_` and `.` (not
/// first) become `\xNN`. Pure; the same as `systemd-escape NAME`.
pub fn escape(name: &str) -> String {
    let mut out = String::new();
    for (i, b) in name.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.') => {
                out.push(b as char)
            }
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_drop_ins_and_the_binary_path_render_as_systemd_reads_them() {
        assert_eq!(instance(&RESTORE, "bela"), "dockpoint-restore@bela.service");
        assert_eq!(instance(&TIMER, "bela"), "dockpoint-checkpoint@bela.timer");
        assert_eq!(
            dropin_dir(&CHECKPOINT, "bela"),
            "/etc/systemd/system/dockpoint-checkpoint@bela.service.d"
        );
        let r = render(&RESTORE, "/usr/bin/dockpoint");
        assert!(r.contains("ExecStart=/usr/bin/dockpoint restore %I --yes --or-cold-start\n"));
        assert!(!render(&SHUTDOWN, "/x").contains("{bin}"));
        assert_eq!(
            timer_dropin("1min"),
            "# Written by dockpoint enable --every 1min.\n[Timer]\nOnBootSec=1min\nOnUnitActiveSec=1min\n"
        );
        assert!(keep_dropin(3).contains("Environment=DOCKPOINT_KEEP=3\n"));
    }

    #[test]
    fn names_are_escaped_as_systemd_escape_does() {
        assert_eq!(escape("bela"), "bela");
        assert_eq!(escape("my-app"), "my\\x2dapp");
        assert_eq!(escape("a.b_c"), "a.b_c");
        assert_eq!(escape(".x"), "\\x2ex");
        assert_eq!(escape("a b"), "a\\x20b");
    }

    #[test]
    fn every_takes_systemd_spans_of_at_least_30s() {
        assert_eq!(parse_every("1min"), Ok("1min".into()));
        assert_eq!(parse_every("90s"), Ok("90s".into()));
        assert_eq!(parse_every("2h"), Ok("2h".into()));
        assert!(parse_every("10s").unwrap_err().contains("at least 30s"));
        assert!(parse_every("5 parsecs").is_err());
        assert!(parse_every("min").is_err());
    }
}
