//! Which running dockerd is this host's: only processes in dockpoint's own
//! pid and mount namespaces count. A containerised docker host (a dockerd
//! under `unshare -m`, in a container, in a systemd-booted test root) is
//! another host's docker, however visible its process is from here.
//!
//! Observing is live-only I/O ([`observe`]); choosing is a pure function of
//! what was observed ([`choose_dockerd`]), tested on its own.

use crate::host::Host;
use std::collections::BTreeSet;

/// A process's namespaces, as far as they can be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ns {
    /// `readlink /proc/<pid>/ns/pid`: `pid:[4026531836]` (needs the right
    /// to ptrace-read the process: root, or its own user).
    pub pid: Option<String>,
    pub mnt: Option<String>,
    pub user: Option<String>,
    /// How many pids the `NSpid:` line of /proc/<pid>/status has: its depth
    /// below the pid namespace /proc was mounted for (readable by anyone).
    pub nspid_depth: Option<usize>,
    /// The mount ids in /proc/<pid>/mountinfo (readable by anyone). Mount
    /// ids are unique among live mounts, and a mount belongs to one mount
    /// namespace: two processes sharing an id share the namespace.
    pub mount_ids: BTreeSet<u64>,
}

/// Same pid namespace: by the links when both are readable, else by NSpid
/// depth (a different depth is a different namespace; both at the top of
/// /proc's namespace are the same one). None: cannot tell.
pub fn same_pid_ns(me: &Ns, it: &Ns) -> Option<bool> {
    if let (Some(a), Some(b)) = (&me.pid, &it.pid) {
        return Some(a == b);
    }
    match (me.nspid_depth, it.nspid_depth) {
        (Some(a), Some(b)) if a != b => Some(false),
        (Some(1), Some(1)) => Some(true),
        _ => None,
    }
}

/// Same mount namespace: by the links when both are readable, else by a
/// shared mount id. None: cannot tell.
pub fn same_mnt_ns(me: &Ns, it: &Ns) -> Option<bool> {
    if let (Some(a), Some(b)) = (&me.mnt, &it.mnt) {
        return Some(a == b);
    }
    if me.mount_ids.is_empty() || it.mount_ids.is_empty() {
        return None;
    }
    Some(!me.mount_ids.is_disjoint(&it.mount_ids))
}

/// A process that may be a dockerd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: i32,
    /// The owner of /proc/<pid> (its effective uid).
    pub uid: Option<u32>,
    /// /proc/<pid>/comm.
    pub comm: String,
    /// /proc/<pid>/cmdline.
    pub argv: Vec<String>,
    /// Start time in clock ticks after boot (/proc/<pid>/stat field 22).
    pub start: Option<u64>,
    pub ns: Ns,
}

impl ProcInfo {
    /// Named dockerd (its comm, or its argv[0]'s base name).
    pub fn is_dockerd(&self) -> bool {
        self.comm == "dockerd"
            || self
                .argv
                .first()
                .is_some_and(|a| a.rsplit('/').next() == Some("dockerd"))
    }
}

/// The dockerd chosen, and what was passed over and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub pid: Option<i32>,
    /// One sentence per process passed over.
    pub notes: Vec<String>,
}

/// Choose this host's dockerd among `candidates`: a process counts only in
/// our pid namespace and our mount namespace, with one exception, rootless
/// docker (a non-root dockerd that rootlesskit put in its own user and mount
/// namespaces). systemd's MainPID of docker.service wins when it counts and
/// is a dockerd; else root's dockerd before a rootless one, then the oldest.
pub fn choose_dockerd(candidates: &[ProcInfo], me: &Ns, main_pid: Option<i32>) -> Choice {
    let mut notes = Vec::new();
    // Lower ranks first: (not root's, outside our mount namespace, start, pid).
    type Rank = (bool, bool, u64, i32);
    let mut ok: Vec<(Rank, &ProcInfo)> = Vec::new();
    for p in candidates {
        let is_main = main_pid == Some(p.pid);
        if !p.is_dockerd() {
            if is_main {
                notes.push(format!(
                    "systemd names pid {} (`{}`) as docker.service's main process, but it is not a dockerd",
                    p.pid, p.comm
                ));
            }
            continue;
        }
        match same_pid_ns(me, &p.ns) {
            Some(true) => {}
            Some(false) => {
                notes.push(format!(
                    "dockerd pid {} runs in another pid namespace: it is another host's docker (a container's or a containerised docker host's), not this host's; ignored",
                    p.pid
                ));
                continue;
            }
            None => {
                notes.push(format!(
                    "dockerd pid {}: cannot tell whether it runs in this host's pid namespace (run dockpoint as root); ignored",
                    p.pid
                ));
                continue;
            }
        }
        let rootless =
            p.uid != Some(0) && matches!((&me.user, &p.ns.user), (Some(a), Some(b)) if a != b);
        let other_mnt = match same_mnt_ns(me, &p.ns) {
            Some(true) => false,
            Some(false) if rootless => true,
            Some(false) => {
                notes.push(format!(
                    "dockerd pid {} runs in another mount namespace: it reads another root's /etc/docker (a containerised docker host), not this host's docker; ignored",
                    p.pid
                ));
                continue;
            }
            None => {
                notes.push(format!(
                    "dockerd pid {}: cannot tell whether it runs in this host's mount namespace (run dockpoint as root); ignored",
                    p.pid
                ));
                continue;
            }
        };
        if is_main {
            return Choice {
                pid: Some(p.pid),
                notes,
            };
        }
        let rank = (
            p.uid != Some(0),
            other_mnt,
            p.start.unwrap_or(u64::MAX),
            p.pid,
        );
        ok.push((rank, p));
    }
    ok.sort_by_key(|(rank, _)| *rank);
    Choice {
        pid: ok.first().map(|(_, p)| p.pid),
        notes,
    }
}

/// A namespace link of the live system, read (not followed) through the
/// root handle.
fn ns_link(host: &Host, proc_dir: &str, ns: &str) -> Option<String> {
    if !host.live {
        return None;
    }
    host.fs.read_link(&format!("{proc_dir}/ns/{ns}"))
}

/// The namespaces of `/proc/self` or `/proc/<pid>`.
pub fn ns_of(host: &Host, proc_dir: &str) -> Ns {
    let nspid_depth = host
        .fs
        .read_quiet(&format!("{proc_dir}/status"))
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .map(|v| v.split_whitespace().count())
        })
        .filter(|n| *n > 0);
    let mount_ids = host
        .fs
        .read_quiet(&format!("{proc_dir}/mountinfo"))
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_whitespace().next()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    Ns {
        pid: ns_link(host, proc_dir, "pid"),
        mnt: ns_link(host, proc_dir, "mnt"),
        user: ns_link(host, proc_dir, "user"),
        nspid_depth,
        mount_ids,
    }
}

/// What /proc says about one process, None when it is gone.
pub fn proc_info(host: &Host, pid: i32) -> Option<ProcInfo> {
    let dir = format!("/proc/{pid}");
    let comm = host
        .fs
        .read_quiet(&format!("{dir}/comm"))?
        .trim()
        .to_string();
    let argv = host.fs.cmdline(pid, 1 << 20).unwrap_or_default();
    // Field 22 counts from after the `(comm)` field, which may hold spaces.
    let start = host.fs.read_quiet(&format!("{dir}/stat")).and_then(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(19)?.parse().ok())
    });
    Some(ProcInfo {
        pid,
        uid: host.fs.stat(&dir).map(|s| s.st_uid),
        comm,
        argv,
        start,
        ns: ns_of(host, &dir),
    })
}

/// Our own namespaces and every visible process named dockerd, plus
/// `main_pid` whatever its name (live system only).
pub fn observe(host: &Host, main_pid: Option<i32>) -> (Ns, Vec<ProcInfo>) {
    let me = ns_of(host, "/proc/self");
    let mut found = Vec::new();
    for name in host.fs.read_dir("/proc").unwrap_or_default() {
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let comm = host.fs.read_quiet(&format!("/proc/{pid}/comm"));
        let named = comm.as_deref().map(str::trim) == Some("dockerd");
        if (named || main_pid == Some(pid))
            && let Some(p) = proc_info(host, pid)
        {
            found.push(p);
        }
    }
    (me, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(pid: &str, mnt: &str) -> Ns {
        Ns {
            pid: Some(format!("pid:[{pid}]")),
            mnt: Some(format!("mnt:[{mnt}]")),
            user: Some("user:[4026531837]".into()),
            nspid_depth: Some(1),
            mount_ids: [1, 2, 3].into(),
        }
    }

    fn dockerd(pid: i32, uid: u32, start: u64, ns: Ns) -> ProcInfo {
        ProcInfo {
            pid,
            uid: Some(uid),
            comm: "dockerd".into(),
            argv: vec!["/usr/bin/dockerd".into(), "-H".into(), "fd://".into()],
            start: Some(start),
            ns,
        }
    }

    fn me() -> Ns {
        ns("100", "200")
    }

    #[test]
    fn docker_ours_is_chosen() {
        let c = choose_dockerd(&[dockerd(812, 0, 50, me())], &me(), None);
        assert_eq!(c.pid, Some(812));
        assert!(c.notes.is_empty());
        assert_eq!(choose_dockerd(&[], &me(), None), Choice::default());
    }

    #[test]
    fn docker_another_pid_namespace_is_ignored() {
        // The containerised docker host: older, root's, and visible from
        // here, but in its own pid namespace.
        let theirs = dockerd(40, 0, 1, ns("999", "200"));
        let c = choose_dockerd(std::slice::from_ref(&theirs), &me(), None);
        assert_eq!(c.pid, None);
        assert!(
            c.notes[0].contains("another pid namespace"),
            "{:?}",
            c.notes
        );
        let ours = dockerd(812, 0, 50, me());
        let c = choose_dockerd(&[theirs, ours], &me(), None);
        assert_eq!(c.pid, Some(812));
        assert_eq!(c.notes.len(), 1);
    }

    #[test]
    fn docker_another_mount_namespace_is_ignored() {
        // `unshare -m` + pivot_root: same pid namespace, another root.
        let theirs = dockerd(40, 0, 1, ns("100", "777"));
        let c = choose_dockerd(std::slice::from_ref(&theirs), &me(), None);
        assert_eq!(c.pid, None);
        assert!(
            c.notes[0].contains("another mount namespace"),
            "{:?}",
            c.notes
        );
        let c = choose_dockerd(&[theirs, dockerd(812, 0, 50, me())], &me(), None);
        assert_eq!(c.pid, Some(812));
    }

    #[test]
    fn docker_root_is_preferred_over_rootless() {
        // Rootless docker: a user's dockerd in rootlesskit's own user and
        // mount namespaces, same pid namespace. It counts, after root's.
        let mut rootless_ns = ns("100", "555");
        rootless_ns.user = Some("user:[4026532999]".into());
        let rootless = dockerd(30, 1000, 1, rootless_ns);
        let root = dockerd(812, 0, 50, me());
        let c = choose_dockerd(&[rootless.clone(), root.clone()], &me(), None);
        assert_eq!(c.pid, Some(812));
        let c = choose_dockerd(std::slice::from_ref(&rootless), &me(), None);
        assert_eq!(c.pid, Some(30));
        assert!(c.notes.is_empty());
        // A user's dockerd in our own namespaces also comes after root's.
        let user_here = dockerd(31, 1000, 1, me());
        let c = choose_dockerd(&[user_here, root], &me(), None);
        assert_eq!(c.pid, Some(812));
        // Root's dockerd in another mount namespace is never "rootless".
        let mut root_elsewhere = rootless;
        root_elsewhere.uid = Some(0);
        assert_eq!(choose_dockerd(&[root_elsewhere], &me(), None).pid, None);
    }

    #[test]
    fn docker_oldest_wins_among_equals() {
        let c = choose_dockerd(
            &[dockerd(900, 0, 70, me()), dockerd(950, 0, 60, me())],
            &me(),
            None,
        );
        assert_eq!(c.pid, Some(950));
    }

    #[test]
    fn docker_systemd_main_pid_wins() {
        let old = dockerd(700, 0, 10, me());
        let main = dockerd(812, 0, 50, me());
        let c = choose_dockerd(&[old.clone(), main.clone()], &me(), Some(812));
        assert_eq!(c.pid, Some(812));
        // Unless it is not in our namespaces...
        let mut main_elsewhere = main.clone();
        main_elsewhere.ns = ns("100", "777");
        let c = choose_dockerd(&[old.clone(), main_elsewhere], &me(), Some(812));
        assert_eq!(c.pid, Some(700));
        // ...or not a dockerd.
        let mut wrapper = main;
        wrapper.comm = "sh".into();
        wrapper.argv = vec!["/bin/sh".into(), "-c".into(), "dockerd".into()];
        let c = choose_dockerd(&[old, wrapper], &me(), Some(812));
        assert_eq!(c.pid, Some(700));
        assert!(c.notes[0].contains("not a dockerd"), "{:?}", c.notes);
    }

    #[test]
    fn docker_namespaces_without_the_links() {
        // Not root: the ns links of root's processes are unreadable; the
        // world-readable NSpid line and mount ids decide.
        let blind = |depth, ids: &[u64]| Ns {
            nspid_depth: Some(depth),
            mount_ids: ids.iter().copied().collect(),
            ..Ns::default()
        };
        let me = Ns {
            pid: Some("pid:[1]".into()),
            mnt: Some("mnt:[2]".into()),
            ..blind(1, &[20, 21, 22])
        };
        assert_eq!(same_pid_ns(&me, &blind(1, &[20])), Some(true));
        assert_eq!(same_pid_ns(&me, &blind(2, &[20])), Some(false));
        assert_eq!(same_mnt_ns(&me, &blind(1, &[22, 40])), Some(true));
        assert_eq!(same_mnt_ns(&me, &blind(1, &[40, 41])), Some(false));
        assert_eq!(same_mnt_ns(&me, &Ns::default()), None);
        // Below /proc's namespace ourselves: same depth proves nothing.
        let deep = Ns {
            pid: None,
            ..blind(2, &[20])
        };
        assert_eq!(same_pid_ns(&deep, &blind(2, &[20])), None);
        let c = choose_dockerd(&[dockerd(5, 0, 1, blind(2, &[20]))], &deep, None);
        assert_eq!(c.pid, None);
        assert!(c.notes[0].contains("cannot tell"), "{:?}", c.notes);
        let c = choose_dockerd(&[dockerd(5, 0, 1, blind(1, &[21]))], &me, None);
        assert_eq!(c.pid, Some(5));
        let c = choose_dockerd(&[dockerd(5, 0, 1, blind(1, &[99]))], &me, None);
        assert_eq!(c.pid, None);
    }

    #[test]
    fn docker_dockerd_by_argv0() {
        let mut p = dockerd(7, 0, 1, me());
        p.comm = "dockerd-wrapped".into();
        assert!(p.is_dockerd());
        p.argv = vec!["/usr/bin/containerd".into()];
        assert!(!p.is_dockerd());
    }
}
