//! Preflight facts about ONE running container, given the pid of its init
//! process (docker inspect's `State.Pid`): gathered once through the host
//! door ([`observe`], [`observe_space`], [`observe_leftovers`]), then judged
//! by pure functions of that data (`judge_*`, [`plan_space`]), each of which
//! says Ok, Warn, Refuse or Unknown with the figures and the fix.
//!
//! What is gathered, and from where (every read goes through
//! [`crate::rootfs::Root`], so `--root DIR` confines it and tests build fake
//! /proc trees in a temp dir):
//! - the container's processes: every pid whose `/proc/<pid>/ns/pid` link
//!   equals the init's (the init's cgroups instead when the init shares
//!   dockpoint's own pid namespace, `--pid host`), at most [`MAX_PIDS`];
//! - its TCP sockets: `/proc/<init>/net/tcp{,6}` (the container's netns
//!   view) joined to the processes by the `socket:[INODE]` links of
//!   `/proc/<pid>/fd/*`; CRIU refuses the dump of a connected socket
//!   (ESTABLISHED, SYN_SENT, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING:
//!   `can_dump_inet_sk` in criu/sk-inet.c) unless runc.conf has
//!   `tcp-established` or `tcp-close`;
//! - regular files open for writing other than exactly `O_WRONLY|O_APPEND`
//!   (`/proc/<pid>/fdinfo/<fd>` `flags:`): CRIU records their size at dump
//!   and a restore fails once it changed (`should_check_size` in
//!   criu/files-reg.c: `File ... has bad size N (expect M)`). CRIU checks
//!   read-only files too; only writable ones are reported, since the
//!   container itself is what grows them;
//! - open deleted files: CRIU copies them into the checkpoint ("ghost
//!   files") up to `ghost-limit` (default 1 MiB, counted in allocated
//!   blocks: `Can't dump ghost file ... increase limit`);
//! - memory: the sum of `VmRSS` + `VmSwap` of the processes
//!   (`/proc/<pid>/status`), and the cgroup's own figure (`memory.current`
//!   on cgroup v2, `memory.usage_in_bytes` on v1) where readable;
//! - free space (statvfs) of /tmp, containerd's root and docker's data
//!   root, grouped by filesystem (`st_dev`) so needs on one filesystem add
//!   up; and leftover `/tmp/ctrd-checkpoint*` directories (containerd#10166).
//!
//! The memory figure is an over-estimate of the checkpoint: VmRSS counts
//! clean file-backed pages CRIU does not dump, and pages shared between the
//! processes (shared memory, copy-on-write after fork) once per process. The
//! cgroup's figure includes the page cache, so it is reported but only used
//! when no process could be read.
//!
//! Why not the `sysinfo` crate (on the project's requested list): 0.39
//! reads process memory (`statm`: resident and virtual only) and disks
//! (`/proc/mounts`) with `std::fs` on the machine's hard-coded `/proc`
//! (`Path::new("/proc")` in its Linux `system.rs`), so it cannot honour
//! `--root` and cannot be tested on a fake /proc; it has no per-process swap,
//! no pid namespaces, no descriptor targets or flags (only a count of open
//! files), no sockets, and maps a path to a disk by mount point, not by
//! `st_dev`. The sockets, files and namespaces need procfs reads through the
//! host door anyway; VmRSS/VmSwap are two more lines of the same status file,
//! and free space is nix's `fstatvfs` on a directory the door opened. No
//! dependency is added.
//!
//! One stat is not a path lookup: the size of a file a process holds open
//! is `fstatat` on its `/proc/<pid>/fd/<fd>` entry in the fd directory
//! opened through the door. On procfs that entry is the kernel's magic link
//! to the open file itself (deleted or not, in whatever mount namespace),
//! which the door's own `RESOLVE_NO_MAGICLINKS` refuses by design; it is
//! followed only when the directory really is procfs. Anywhere else (a fake
//! /proc) the link is plain text and the path is looked up inside the root as
//! `/proc/<pid>/root/<path>`.

use crate::docker::procs::{Ns, same_pid_ns};
use crate::host::Host;
use crate::rootfs::names_in;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// At most this many processes are taken as the container's.
pub const MAX_PIDS: usize = 10_000;
/// At most this many file descriptors are examined per process.
pub const MAX_FDS: usize = 65_536;
/// At most this many entries are visited under the leftover directories.
pub const MAX_WALK: u64 = 100_000;
/// How deep the leftover walk goes.
const MAX_DEPTH: usize = 64;
/// The largest /proc/<pid>/net/tcp{,6} read (a host-network container sees
/// the host's sockets: about 150 bytes a socket).
pub const NET_LIMIT: u64 = 64 << 20;
/// CRIU's default `ghost-limit` (criu/include/cr_options.h).
pub const DEFAULT_GHOST_LIMIT: u64 = 1 << 20;
/// Where containerd makes its checkpoint work dirs when XDG_RUNTIME_DIR is
/// unset (containerd.service sets neither it nor TMPDIR).
pub const DEFAULT_TMP: &str = "/tmp";
/// containerd's root when it runs as its own service.
pub const DEFAULT_CONTAINERD_ROOT: &str = "/var/lib/containerd";
/// `os.MkdirTemp(dir, "ctrd-checkpoint")` in containerd.
pub const LEFTOVER_PREFIX: &str = "ctrd-checkpoint";

// ---------------------------------------------------------------------------
// Facts

/// How the container's processes were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum Membership {
    /// Every process whose `/proc/<pid>/ns/pid` is this link.
    PidNamespace { ns: String },
    /// The init shares dockpoint's own pid namespace (`--pid host`): the
    /// processes whose `/proc/<pid>/cgroup` is the init's.
    Cgroup,
    /// The caller's list.
    Given,
    /// Not known: the init is gone, or its namespace cannot be read.
    Unknown { reason: String },
}

/// The container's processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Processes {
    pub init: i32,
    pub membership: Membership,
    /// Sorted; the init among them.
    pub pids: Vec<i32>,
    pub limit: usize,
    /// More processes matched than `limit`: only `limit` were kept.
    pub truncated: bool,
    /// Processes whose namespace could not be read (not root, or zombies).
    pub unreadable: usize,
}

impl Processes {
    /// The caller's own list (the init is added when missing).
    pub fn given(init: i32, pids: &[i32]) -> Self {
        let mut pids = pids.to_vec();
        pids.push(init);
        pids.sort_unstable();
        pids.dedup();
        Processes {
            init,
            membership: Membership::Given,
            limit: pids.len(),
            pids,
            truncated: false,
            unreadable: 0,
        }
    }

    fn unknown(init: i32, limit: usize, reason: String) -> Self {
        Processes {
            init,
            membership: Membership::Unknown { reason },
            pids: Vec::new(),
            limit,
            truncated: false,
            unreadable: 0,
        }
    }
}

/// One process of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proc {
    pub pid: i32,
    /// `/proc/<pid>/comm`.
    pub comm: String,
    pub memory: Option<ProcMemory>,
    /// Why its file descriptors could not be listed (not root; gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fds_error: Option<String>,
    /// More than [`MAX_FDS`] descriptors: the rest were not examined.
    pub fds_truncated: bool,
}

/// A process's memory, from `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProcMemory {
    /// VmRSS: resident pages, shared ones included.
    pub rss: u64,
    /// VmSwap: swapped-out anonymous pages (CRIU dumps these too).
    pub swap: u64,
    /// RssAnon (kernels >= 4.5).
    pub anon: Option<u64>,
    /// RssShmem (kernels >= 4.5).
    pub shmem: Option<u64>,
}

/// The state of a TCP socket (include/net/tcp_states.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
    Unknown,
}

impl TcpState {
    /// The `st` column of /proc/net/tcp.
    pub fn from_code(code: u8) -> Self {
        use TcpState::*;
        match code {
            0x01 => Established,
            0x02 => SynSent,
            0x03 => SynRecv,
            0x04 => FinWait1,
            0x05 => FinWait2,
            0x06 => TimeWait,
            0x07 => Close,
            0x08 => CloseWait,
            0x09 => LastAck,
            0x0A => Listen,
            0x0B => Closing,
            0x0C => NewSynRecv,
            _ => Unknown,
        }
    }

    /// The states CRIU dumps only with `tcp-established` or `tcp-close`.
    pub fn is_connected(self) -> bool {
        use TcpState::*;
        matches!(
            self,
            Established | SynSent | FinWait1 | FinWait2 | CloseWait | LastAck | Closing
        )
    }

    pub fn name(self) -> &'static str {
        use TcpState::*;
        match self {
            Established => "ESTABLISHED",
            SynSent => "SYN_SENT",
            SynRecv => "SYN_RECV",
            FinWait1 => "FIN_WAIT1",
            FinWait2 => "FIN_WAIT2",
            TimeWait => "TIME_WAIT",
            Close => "CLOSE",
            CloseWait => "CLOSE_WAIT",
            LastAck => "LAST_ACK",
            Listen => "LISTEN",
            Closing => "CLOSING",
            NewSynRecv => "NEW_SYN_RECV",
            Unknown => "UNKNOWN",
        }
    }
}

/// One line of /proc/net/tcp or tcp6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpEntry {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// The receive queue; for a listener, connections not yet accepted.
    pub rx_queue: u32,
    /// The socket's inode (0 for a socket no process holds: TIME_WAIT).
    pub inode: u64,
}

/// Who holds a socket: a process of the container and its descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketOwner {
    pub pid: i32,
    pub comm: String,
    pub fd: i32,
}

/// A connected TCP socket held by the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpConnection {
    /// `10.0.0.2:5432`, `[2001:db8::1]:443` (v4-mapped addresses as IPv4).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    pub pid: i32,
    pub comm: String,
    pub fd: i32,
    pub inode: u64,
    /// Further processes holding the same socket (inherited descriptors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<i32>,
}

/// A listening TCP socket held by the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub local: SocketAddr,
    pub pid: i32,
    pub comm: String,
    /// Connections waiting to be accepted: CRIU refuses them ("In-flight
    /// connection") unless `skip-in-flight`.
    pub backlog: u32,
}

/// The container's TCP sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpFacts {
    /// Connected sockets (the states CRIU needs `tcp-established` for).
    pub connections: Vec<TcpConnection>,
    pub listeners: Vec<Listener>,
    /// What could not be read (`/proc/<init>/net/tcp6` absent without IPv6).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A regular file a process holds open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFile {
    /// The path as the process sees it (without ` (deleted)`).
    pub path: String,
    pub pid: i32,
    pub comm: String,
    pub fd: i32,
    /// `flags:` of /proc/<pid>/fdinfo/<fd> (octal there).
    pub flags: u32,
    /// The flags in words: `O_RDWR`, `O_WRONLY|O_APPEND|O_CLOEXEC`.
    pub mode: String,
    /// st_size now, when it could be read.
    pub size: Option<u64>,
    /// Allocated bytes (st_blocks * 512): what CRIU's ghost-limit counts.
    pub allocated: Option<u64>,
    /// Links to the file (0: a ghost file CRIU must copy).
    pub nlink: Option<u64>,
}

/// The container's memory, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryFacts {
    /// Sum of VmRSS (shared pages counted once per process).
    pub rss: u64,
    /// Sum of VmSwap.
    pub swap: u64,
    /// Sum of RssAnon + RssShmem, where the kernel gives them.
    pub anon_shmem: u64,
    /// Processes counted.
    pub counted: usize,
    /// Processes whose status could not be read.
    pub unreadable: usize,
    pub cgroup: Option<CgroupMemory>,
}

/// The container cgroup's own figure (page cache included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupMemory {
    /// The file it came from.
    pub file: String,
    pub bytes: u64,
}

impl MemoryFacts {
    /// The checkpoint's expected size: VmRSS + VmSwap of the processes
    /// (an over-estimate), or the cgroup's figure when no process could be
    /// read. None: nothing known.
    pub fn estimate(&self) -> Option<u64> {
        if self.counted > 0 {
            Some(self.rss.saturating_add(self.swap))
        } else {
            self.cgroup.as_ref().map(|c| c.bytes)
        }
    }
}

/// Everything [`observe`] learns about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerFacts {
    pub init_pid: i32,
    pub processes: Processes,
    pub procs: Vec<Proc>,
    pub tcp: TcpFacts,
    /// Regular files open for writing, not exactly `O_WRONLY|O_APPEND`.
    pub writable_files: Vec<OpenFile>,
    /// Open files whose path was deleted (any access mode).
    pub deleted_files: Vec<OpenFile>,
    pub memory: MemoryFacts,
}

// ---------------------------------------------------------------------------
// Pure parsers

/// The entries of /proc/net/tcp or /proc/net/tcp6 text; the header and
/// malformed lines are skipped. Addresses are printed by the kernel as
/// native-endian 32-bit words, decoded here on the same machine.
pub fn parse_proc_net_tcp(text: &str) -> Vec<TcpEntry> {
    text.lines().filter_map(parse_tcp_line).collect()
}

fn parse_tcp_line(line: &str) -> Option<TcpEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if f.len() < 10 || !f[0].ends_with(':') {
        return None;
    }
    let local = parse_hex_addr(f[1])?;
    let remote = parse_hex_addr(f[2])?;
    let state = TcpState::from_code(u8::from_str_radix(f[3], 16).ok()?);
    let (_, rx) = f[4].split_once(':')?;
    let rx_queue = u32::from_str_radix(rx, 16).ok()?;
    let inode = f[9].parse().ok()?;
    Some(TcpEntry {
        local,
        remote,
        state,
        rx_queue,
        inode,
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080; 32 hex digits are IPv6, a v4-mapped
/// one (`::ffff:a.b.c.d`) comes back as IPv4.
pub fn parse_hex_addr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok().map(u32::to_ne_bytes);
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            let v6 = Ipv6Addr::from(b);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// What a `/proc/<pid>/fd/<fd>` link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdTarget {
    /// `socket:[INODE]`.
    Socket(u64),
    /// A path (`/data/x`), deleted when the link ends with ` (deleted)`.
    Path { path: String, deleted: bool },
    /// A pipe, an anon inode, a memfd, a namespace...
    Other,
}

pub fn parse_fd_target(link: &str) -> FdTarget {
    if let Some(inode) = link
        .strip_prefix("socket:[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
    {
        return FdTarget::Socket(inode);
    }
    if !link.starts_with('/') || link.starts_with("/memfd:") {
        return FdTarget::Other;
    }
    match link.strip_suffix(" (deleted)") {
        Some(p) => FdTarget::Path {
            path: p.to_string(),
            deleted: true,
        },
        None => FdTarget::Path {
            path: link.to_string(),
            deleted: false,
        },
    }
}

/// The `flags:` line of an fdinfo file (octal).
pub fn parse_fdinfo_flags(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
}

const ACCMODE: u32 = nix::libc::O_ACCMODE as u32;
const RDONLY: u32 = nix::libc::O_RDONLY as u32;
const WRONLY: u32 = nix::libc::O_WRONLY as u32;
const RDWR: u32 = nix::libc::O_RDWR as u32;
const APPEND: u32 = nix::libc::O_APPEND as u32;

/// A file whose size CRIU records and checks at restore, and which this
/// process may grow: opened for writing, and not exactly write-append.
pub fn size_checked_writable(flags: u32) -> bool {
    let acc = flags & ACCMODE;
    acc != RDONLY && !(acc == WRONLY && flags & APPEND != 0)
}

/// `O_RDWR|O_APPEND|O_CLOEXEC`: the access mode and the flags that matter
/// to a person (O_LARGEFILE, always set on 64-bit, is left out).
pub fn describe_flags(flags: u32) -> String {
    use nix::libc;
    let mut words = vec![match flags & ACCMODE {
        RDONLY => "O_RDONLY",
        WRONLY => "O_WRONLY",
        RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    }];
    let sync = libc::O_SYNC as u32;
    for (bit, name) in [
        (libc::O_APPEND as u32, "O_APPEND"),
        (libc::O_NONBLOCK as u32, "O_NONBLOCK"),
        (libc::O_DIRECT as u32, "O_DIRECT"),
        (libc::O_NOATIME as u32, "O_NOATIME"),
        (libc::O_CLOEXEC as u32, "O_CLOEXEC"),
        (libc::O_PATH as u32, "O_PATH"),
    ] {
        if flags & bit != 0 {
            words.push(name);
        }
    }
    if flags & sync == sync {
        words.push("O_SYNC");
    } else if flags & libc::O_DSYNC as u32 != 0 {
        words.push("O_DSYNC");
    }
    words.join("|")
}

/// The memory lines of /proc/<pid>/status; None without VmRSS (a kernel
/// thread, a zombie).
pub fn parse_status_memory(text: &str) -> Option<ProcMemory> {
    let kb = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|v| v.saturating_mul(1024))
    };
    Some(ProcMemory {
        rss: kb("VmRSS")?,
        swap: kb("VmSwap").unwrap_or(0),
        anon: kb("RssAnon"),
        shmem: kb("RssShmem"),
    })
}

/// The files that may hold the memory use of the cgroup in /proc/<pid>/cgroup
/// text, most specific first: the v1 memory controller's
/// `memory.usage_in_bytes`, then v2's `memory.current` (unified, or under
/// `unified/` on a hybrid host).
pub fn cgroup_memory_files(cgroup: &str) -> Vec<String> {
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for line in cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if id == "0" && ctrl.is_empty() {
            v2.push(format!("/sys/fs/cgroup{path}/memory.current"));
            v2.push(format!("/sys/fs/cgroup/unified{path}/memory.current"));
        } else if ctrl.split(',').any(|c| c == "memory") {
            v1.push(format!("/sys/fs/cgroup/{ctrl}{path}/memory.usage_in_bytes"));
        }
    }
    v1.extend(v2);
    v1
}

/// CRIU's size syntax (`parse_size` in criu/config.c): a number, times
/// 1024, 1024² or 1024³ when the text holds K, M or G.
pub fn criu_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().ok()?;
    let mult = if t.contains('K') {
        1 << 10
    } else if t.contains('M') {
        1 << 20
    } else if t.contains('G') {
        1 << 30
    } else {
        1
    };
    n.checked_mul(mult)
}

/// `3.1 GiB`, `512.0 MiB`, `900 B`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

// ---------------------------------------------------------------------------
// Gathering

/// The pid namespace link of a process, read (not followed) through the
/// door. `procs::ns_of` reads it only on the live host (right for choosing
/// dockerd) and reads status and mountinfo as well (too much for a scan of
/// every process); the comparison is its `same_pid_ns`.
fn pid_ns(host: &Host, proc_dir: &str) -> Ns {
    Ns {
        pid: host.fs.read_link(&format!("{proc_dir}/ns/pid")),
        ..Ns::default()
    }
}

/// The numeric entries of /proc, in order.
fn all_pids(host: &Host) -> anyhow::Result<Vec<i32>> {
    let mut pids: Vec<i32> = host
        .fs
        .read_dir("/proc")?
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The container's processes: every process in the init's pid namespace
/// (in its cgroups when the init shares dockpoint's own pid namespace), at
/// most `limit` of them.
pub fn find_processes(host: &Host, init: i32, limit: usize) -> Processes {
    let init_dir = format!("/proc/{init}");
    if !host.fs.is_dir(&init_dir) {
        return Processes::unknown(init, limit, format!("process {init} is not running"));
    }
    let init_ns = pid_ns(host, &init_dir);
    let Some(ns) = init_ns.pid.clone() else {
        return Processes::unknown(
            init,
            limit,
            format!(
                "cannot read {}: reading another user's processes needs root",
                host.fs.display(&format!("{init_dir}/ns/pid"))
            ),
        );
    };
    let by_cgroup = same_pid_ns(&pid_ns(host, "/proc/self"), &init_ns) == Some(true);
    let cgroup_of = |pid: i32| host.fs.read_quiet(&format!("/proc/{pid}/cgroup"));
    let init_cgroup = if by_cgroup {
        match cgroup_of(init) {
            Some(c) => Some(c),
            None => {
                return Processes::unknown(
                    init,
                    limit,
                    format!(
                        "process {init} shares dockpoint's pid namespace and its cgroup cannot be read"
                    ),
                );
            }
        }
    } else {
        None
    };
    let pids = match all_pids(host) {
        Ok(p) => p,
        Err(e) => return Processes::unknown(init, limit, format!("{e:#}")),
    };
    let mut found = Processes {
        init,
        membership: if by_cgroup {
            Membership::Cgroup
        } else {
            Membership::PidNamespace { ns }
        },
        pids: vec![init],
        limit,
        truncated: false,
        unreadable: 0,
    };
    for pid in pids {
        if pid == init {
            continue;
        }
        let member = match &init_cgroup {
            Some(c) => cgroup_of(pid).map(|o| &o == c),
            None => same_pid_ns(&init_ns, &pid_ns(host, &format!("/proc/{pid}"))),
        };
        match member {
            Some(true) if found.pids.len() >= limit => {
                found.truncated = true;
                break;
            }
            Some(true) => found.pids.push(pid),
            Some(false) => {}
            None => {
                if host.fs.exists(&format!("/proc/{pid}")) {
                    found.unreadable += 1;
                }
            }
        }
    }
    found.pids.sort_unstable();
    found
}

/// Facts about the container whose init process is `init`: its processes
/// found by [`find_processes`] (at most [`MAX_PIDS`]).
pub fn observe(host: &Host, init: i32) -> ContainerFacts {
    observe_processes(host, find_processes(host, init, MAX_PIDS))
}

/// Facts about the given processes (a [`find_processes`] result, or
/// [`Processes::given`]); the sockets are those of the init's network
/// namespace.
pub fn observe_processes(host: &Host, processes: Processes) -> ContainerFacts {
    let init = processes.init;
    let mut procs = Vec::new();
    let mut owners: HashMap<u64, Vec<SocketOwner>> = HashMap::new();
    let mut writable_files = Vec::new();
    let mut deleted_files = Vec::new();
    let mut memory = MemoryFacts::default();
    for &pid in &processes.pids {
        let comm = host
            .fs
            .read_quiet(&format!("/proc/{pid}/comm"))
            .map(|c| c.trim_end_matches('\n').to_string())
            .unwrap_or_default();
        let mem = host
            .fs
            .read_quiet(&format!("/proc/{pid}/status"))
            .and_then(|s| parse_status_memory(&s));
        match mem {
            Some(m) => {
                memory.counted += 1;
                memory.rss = memory.rss.saturating_add(m.rss);
                memory.swap = memory.swap.saturating_add(m.swap);
                memory.anon_shmem = memory
                    .anon_shmem
                    .saturating_add(m.anon.unwrap_or(0) + m.shmem.unwrap_or(0));
            }
            None => memory.unreadable += 1,
        }
        let mut p = Proc {
            pid,
            comm: comm.clone(),
            memory: mem,
            fds_error: None,
            fds_truncated: false,
        };
        match scan_fds(host, pid, &comm) {
            Ok(scan) => {
                p.fds_truncated = scan.truncated;
                for (inode, fd) in scan.sockets {
                    owners.entry(inode).or_default().push(SocketOwner {
                        pid,
                        comm: comm.clone(),
                        fd,
                    });
                }
                writable_files.extend(scan.writable);
                deleted_files.extend(scan.deleted);
            }
            Err(e) => p.fds_error = Some(e),
        }
        procs.push(p);
    }
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    if !matches!(processes.membership, Membership::Unknown { .. }) {
        for name in ["tcp", "tcp6"] {
            let path = format!("/proc/{init}/net/{name}");
            match read_net(host, &path) {
                Ok(Some(b)) => entries.extend(parse_proc_net_tcp(&String::from_utf8_lossy(&b))),
                Ok(None) => errors.push(format!("{} does not exist", host.fs.display(&path))),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
    }
    let mut tcp = match_sockets(&entries, &owners);
    tcp.errors = errors;
    memory.cgroup = cgroup_memory(host, init);
    ContainerFacts {
        init_pid: init,
        processes,
        procs,
        tcp,
        writable_files,
        deleted_files,
        memory,
    }
}

/// A /proc/net table, bounded by [`NET_LIMIT`]. The kernel walks its socket
/// hash for each read() (about 2 ms on a machine with much RAM), so the reads
/// are 256 KiB each, not std's 8 KiB. `Ok(None)` when it does not exist.
fn read_net(host: &Host, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
    use std::io::Read;
    const CHUNK: usize = 256 << 10;
    let Some(mut f) = host.fs.open_file(path)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    loop {
        if buf.len() as u64 > NET_LIMIT {
            anyhow::bail!(
                "{} is larger than {} MiB",
                host.fs.display(path),
                NET_LIMIT >> 20
            );
        }
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        match f.read(&mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(Some(buf));
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                return Err(anyhow::Error::from(e)
                    .context(format!("cannot read {}", host.fs.display(path))));
            }
        }
    }
}

/// The container's sockets among the netns's: each connected or listening
/// entry whose inode a process of the container holds.
pub fn match_sockets(entries: &[TcpEntry], owners: &HashMap<u64, Vec<SocketOwner>>) -> TcpFacts {
    let mut facts = TcpFacts::default();
    for e in entries {
        if e.inode == 0 {
            continue;
        }
        let Some(held) = owners.get(&e.inode) else {
            continue;
        };
        let mut held = held.clone();
        held.sort_by_key(|o| (o.pid, o.fd));
        let first = &held[0];
        if e.state.is_connected() {
            facts.connections.push(TcpConnection {
                local: e.local,
                remote: e.remote,
                state: e.state,
                pid: first.pid,
                comm: first.comm.clone(),
                fd: first.fd,
                inode: e.inode,
                shared_with: held[1..].iter().map(|o| o.pid).collect(),
            });
        } else if e.state == TcpState::Listen {
            facts.listeners.push(Listener {
                local: e.local,
                pid: first.pid,
                comm: first.comm.clone(),
                backlog: e.rx_queue,
            });
        }
    }
    facts.connections.sort_by_key(|c| (c.pid, c.fd));
    facts.listeners.sort_by_key(|l| (l.pid, l.local));
    facts
}

/// What one process's descriptors hold.
#[derive(Default)]
struct FdScan {
    sockets: Vec<(u64, i32)>,
    writable: Vec<OpenFile>,
    deleted: Vec<OpenFile>,
    truncated: bool,
}

/// Walk /proc/<pid>/fd through the door: sockets by inode, writable and
/// deleted regular files with their flags and size.
fn scan_fds(host: &Host, pid: i32, comm: &str) -> Result<FdScan, String> {
    let fd_dir = format!("/proc/{pid}/fd");
    let dir = match host.fs.open_dir(&fd_dir) {
        Ok(Some(d)) => d,
        // It ended while the container was scanned: it holds nothing now.
        Ok(None) if !host.fs.exists(&format!("/proc/{pid}")) => return Ok(FdScan::default()),
        Ok(None) => return Err(format!("process {pid} is gone")),
        Err(e) => return Err(format!("{e:#}")),
    };
    // The entries are the kernel's magic links only on procfs.
    let magic = nix::sys::statfs::fstatfs(&dir)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    let info_dir = host
        .fs
        .open_dir(&format!("/proc/{pid}/fdinfo"))
        .ok()
        .flatten();
    let mut names: Vec<(i32, std::ffi::OsString)> = names_in(dir.as_fd())
        .into_iter()
        .filter_map(|n| Some((n.to_str()?.parse().ok()?, n)))
        .collect();
    names.sort_unstable();
    let mut scan = FdScan {
        truncated: names.len() > MAX_FDS,
        ..FdScan::default()
    };
    for (fd, name) in names.into_iter().take(MAX_FDS) {
        let Ok(link) = nix::fcntl::readlinkat(dir.as_fd(), name.as_os_str()) else {
            continue; // closed meanwhile
        };
        let (path, deleted) = match parse_fd_target(&link.to_string_lossy()) {
            FdTarget::Socket(inode) => {
                scan.sockets.push((inode, fd));
                continue;
            }
            FdTarget::Other => continue,
            FdTarget::Path { path, deleted } => (path, deleted),
        };
        let Some(flags) = info_dir
            .as_ref()
            .and_then(|d| read_small(d.as_fd(), &name))
            .and_then(|t| parse_fdinfo_flags(&t))
        else {
            continue;
        };
        if !deleted && !size_checked_writable(flags) {
            continue;
        }
        // A regular file: by its status, else by its path (devices live
        // in /dev; a shm segment there is a regular file on tmpfs).
        let st = if magic {
            open_file_stat(dir.as_fd(), &name)
        } else {
            host.fs.stat(&format!("/proc/{pid}/root{path}"))
        };
        let regular = match &st {
            Some(st) => SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG,
            None => !path.starts_with("/dev/"),
        };
        if !regular {
            continue;
        }
        // nlink_t and blkcnt_t differ in width between architectures.
        #[allow(clippy::unnecessary_cast)]
        let file = OpenFile {
            path,
            pid,
            comm: comm.to_string(),
            fd,
            flags,
            mode: describe_flags(flags),
            size: st.map(|s| s.st_size as u64),
            allocated: st.map(|s| (s.st_blocks as u64).saturating_mul(512)),
            nlink: st.map(|s| s.st_nlink as u64),
        };
        if deleted {
            scan.deleted.push(file);
        } else {
            scan.writable.push(file);
        }
    }
    Ok(scan)
}

/// A small regular file in a directory opened through the door (an fdinfo
/// entry: under 200 bytes for a file), in one read plus the one at EOF.
fn read_small(dir: BorrowedFd<'_>, name: &std::ffi::OsString) -> Option<String> {
    use std::io::Read;
    let f = crate::rootfs::open_in(dir, name, "fdinfo").ok()??;
    let mut buf = Vec::with_capacity(512);
    f.take(64 << 10).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The status of the file an open descriptor refers to: `fstatat` follows
/// procfs's magic link from the fd directory opened through the door.
fn open_file_stat(fd_dir: BorrowedFd<'_>, name: &OsStr) -> Option<FileStat> {
    nix::sys::stat::fstatat(fd_dir, name, AtFlags::empty()).ok()
}

/// The cgroup's memory use, from the first readable candidate file.
fn cgroup_memory(host: &Host, init: i32) -> Option<CgroupMemory> {
    let text = host.fs.read_quiet(&format!("/proc/{init}/cgroup"))?;
    cgroup_memory_files(&text).into_iter().find_map(|file| {
        let bytes = host.fs.read_quiet(&file)?.trim().parse().ok()?;
        Some(CgroupMemory { file, bytes })
    })
}

// ---------------------------------------------------------------------------
// Free space

/// Where a checkpoint takes room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    /// containerd's temp dir: CRIU's images before they are tarred.
    Tmp,
    /// containerd's content store: the checkpoint as a tar blob.
    ContainerdRoot,
    /// docker's data root: the extracted checkpoint under
    /// `containers/<id>/checkpoints/<name>`.
    DockerRoot,
}

/// The three paths, as the caller knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Places {
    pub tmp: String,
    pub containerd_root: String,
    pub docker_root: String,
}

impl Places {
    /// `/tmp`, `/var/lib/containerd`, and docker's data root (`/info`'s
    /// DockerRootDir).
    pub fn new(docker_root: &str) -> Self {
        Places {
            tmp: DEFAULT_TMP.into(),
            containerd_root: DEFAULT_CONTAINERD_ROOT.into(),
            docker_root: docker_root.into(),
        }
    }

    pub fn list(&self) -> [(Place, &str); 3] {
        [
            (Place::Tmp, self.tmp.as_str()),
            (Place::ContainerdRoot, self.containerd_root.as_str()),
            (Place::DockerRoot, self.docker_root.as_str()),
        ]
    }
}

/// containerd's root as docker uses it: a dockerd that starts its own
/// containerd keeps it at `<data-root>/containerd/daemon`; a system
/// containerd (its socket at /run/containerd/containerd.sock) at
/// /var/lib/containerd.
pub fn containerd_root_guess(host: &Host, docker_root: &str) -> String {
    let own = format!("{}/containerd/daemon", docker_root.trim_end_matches('/'));
    if !host.fs.exists("/run/containerd/containerd.sock") && host.fs.is_dir(&own) {
        own
    } else {
        DEFAULT_CONTAINERD_ROOT.into()
    }
}

/// The free space where one place lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub place: Place,
    pub path: String,
    /// The nearest existing directory measured when `path` does not exist
    /// (where it would be created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<String>,
    /// st_dev of the filesystem.
    pub dev: Option<u64>,
    /// Its mount point, from /proc/self/mountinfo.
    pub mount_point: Option<String>,
    /// Bytes available to unprivileged writers (statvfs f_bavail * f_frsize).
    pub free_bytes: Option<u64>,
    /// The filesystem is a tmpfs: what is written there takes RAM.
    pub tmpfs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Measure each place: its filesystem (st_dev), mount point and free bytes.
pub fn observe_space(host: &Host, places: &Places) -> Vec<Location> {
    let mountinfo = host
        .fs
        .read_quiet("/proc/self/mountinfo")
        .unwrap_or_default();
    places
        .list()
        .into_iter()
        .map(|(place, path)| measure(host, place, path, &mountinfo))
        .collect()
}

fn parent_of(p: &str) -> Option<&str> {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return None;
    }
    Some(match t.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((parent, _)) => parent,
    })
}

fn measure(host: &Host, place: Place, path: &str, mountinfo: &str) -> Location {
    let mut loc = Location {
        place,
        path: path.to_string(),
        measured_at: None,
        dev: None,
        mount_point: None,
        free_bytes: None,
        tmpfs: false,
        error: None,
    };
    let mut at = path.to_string();
    while !host.fs.is_dir(&at) {
        match parent_of(&at) {
            Some(p) => at = p.to_string(),
            None => {
                loc.error = Some(format!("no directory of {path} exists"));
                return loc;
            }
        }
    }
    if at != path {
        loc.measured_at = Some(at.clone());
    }
    let dir = match host.fs.open_dir(&at) {
        Ok(Some(d)) => d,
        Ok(None) => {
            loc.error = Some(format!("{} vanished", host.fs.display(&at)));
            return loc;
        }
        Err(e) => {
            loc.error = Some(format!("{e:#}"));
            return loc;
        }
    };
    match nix::sys::stat::fstat(&dir) {
        Ok(st) => {
            loc.dev = Some(st.st_dev);
            loc.mount_point = mount_point(mountinfo, st.st_dev, &at);
        }
        Err(e) => loc.error = Some(format!("cannot stat {}: {e}", host.fs.display(&at))),
    }
    match nix::sys::statvfs::fstatvfs(&dir) {
        // fsblkcnt_t is 32-bit on some architectures.
        #[allow(clippy::unnecessary_cast)]
        Ok(v) => {
            loc.free_bytes = Some((v.blocks_available() as u64).saturating_mul(v.fragment_size()))
        }
        Err(e) => loc.error = Some(format!("cannot statvfs {}: {e}", host.fs.display(&at))),
    }
    loc.tmpfs = nix::sys::statfs::fstatfs(&dir)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
    loc
}

/// The mount point of device `dev` holding `path`: among the mountinfo
/// lines with that `major:minor`, the longest mount point that is a prefix
/// of `path`.
pub fn mount_point(mountinfo: &str, dev: u64, path: &str) -> Option<String> {
    let want = format!(
        "{}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    );
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[2] == want).then(|| unescape_mount(f[4]))
        })
        .filter(|mp| {
            mp == "/"
                || path == mp
                || path
                    .strip_prefix(mp.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(String::len)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(Ok(v)) = b
                .get(i + 1..i + 4)
                .and_then(|o| std::str::from_utf8(o).ok())
                .map(|o| u8::from_str_radix(o, 8))
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Bytes a place must have free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Need {
    pub place: Place,
    pub bytes: u64,
}

/// A checkpoint of `memory_bytes`: CRIU's images in the temp dir, their tar
/// in containerd's content store, the extracted copy in docker's data root,
/// each about the memory's size (research Q1 1.6: about three times in all).
pub fn space_needed(memory_bytes: u64) -> Vec<Need> {
    [Place::Tmp, Place::ContainerdRoot, Place::DockerRoot]
        .into_iter()
        .map(|place| Need {
            place,
            bytes: memory_bytes,
        })
        .collect()
}

/// A restore of a checkpoint of `checkpoint_bytes`: moby tars it into the
/// content store again, containerd extracts it into the temp dir (twice the
/// size; docker's copy is already there).
pub fn space_needed_restore(checkpoint_bytes: u64) -> Vec<Need> {
    [Place::Tmp, Place::ContainerdRoot]
        .into_iter()
        .map(|place| Need {
            place,
            bytes: checkpoint_bytes,
        })
        .collect()
}

/// The needs that land on one filesystem, added up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsNeed {
    /// Its mount point, or the first path held when unknown.
    pub name: String,
    pub dev: Option<u64>,
    /// The places on it, as given (`/tmp`, `/var/lib/docker`).
    pub holds: Vec<String>,
    pub needed_bytes: u64,
    pub free_bytes: Option<u64>,
    pub tmpfs: bool,
}

impl FsNeed {
    /// Some(true) when it fits, None when the free space is unknown.
    pub fn fits(&self) -> Option<bool> {
        self.free_bytes.map(|f| self.needed_bytes <= f)
    }
}

/// Group the needs by filesystem (st_dev): places on the same one add up.
/// A need whose place was not measured, or whose device is unknown, is a
/// filesystem of its own with unknown free space.
pub fn plan_space(needs: &[Need], locations: &[Location]) -> Vec<FsNeed> {
    let mut out: Vec<FsNeed> = Vec::new();
    for need in needs {
        let loc = locations.iter().find(|l| l.place == need.place);
        let path = loc.map_or_else(|| format!("{:?}", need.place), |l| l.path.clone());
        let dev = loc.and_then(|l| l.dev);
        if let Some(d) = dev
            && let Some(fs) = out.iter_mut().find(|f| f.dev == Some(d))
        {
            fs.needed_bytes = fs.needed_bytes.saturating_add(need.bytes);
            if !fs.holds.contains(&path) {
                fs.holds.push(path);
            }
            continue;
        }
        out.push(FsNeed {
            name: loc
                .and_then(|l| l.mount_point.clone())
                .unwrap_or_else(|| path.clone()),
            dev,
            holds: vec![path],
            needed_bytes: need.bytes,
            free_bytes: loc.and_then(|l| if dev.is_some() { l.free_bytes } else { None }),
            tmpfs: loc.is_some_and(|l| l.tmpfs),
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Leftovers

/// One leftover containerd checkpoint directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub path: String,
    /// Allocated bytes (as du counts them), the directory itself included.
    pub bytes: u64,
    pub entries: u64,
    /// Its mtime, seconds since the epoch.
    pub modified: i64,
}

/// The `ctrd-checkpoint*` directories in containerd's temp dir.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    pub dir: String,
    pub found: Vec<Leftover>,
    /// The walk stopped at its bound: the sizes are lower bounds.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// List `<tmp>/ctrd-checkpoint*` directories with their sizes, visiting at
/// most `max_entries` entries in all (symlinks are not followed).
pub fn observe_leftovers(host: &Host, tmp: &str, max_entries: u64) -> Leftovers {
    let mut out = Leftovers {
        dir: tmp.to_string(),
        ..Leftovers::default()
    };
    let dir = match host.fs.open_dir(tmp) {
        Ok(Some(d)) => d,
        Ok(None) => return out,
        Err(e) => {
            out.error = Some(format!("{e:#}"));
            return out;
        }
    };
    let mut names: Vec<_> = names_in(dir.as_fd())
        .into_iter()
        .filter(|n| n.as_encoded_bytes().starts_with(LEFTOVER_PREFIX.as_bytes()))
        .collect();
    names.sort();
    let mut budget = max_entries;
    for name in names {
        let Ok(st) =
            nix::sys::stat::fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
        else {
            continue;
        };
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
            continue;
        }
        let mut acc = (blocks(&st), 0u64);
        if let Some(sub) = open_subdir(dir.as_fd(), name.as_os_str()) {
            out.truncated |= walk(sub, 1, &mut budget, &mut acc);
        }
        out.found.push(Leftover {
            path: format!("{}/{}", tmp.trim_end_matches('/'), name.to_string_lossy()),
            bytes: acc.0,
            entries: acc.1,
            modified: st.st_mtime,
        });
    }
    out
}

/// The allocated bytes under a directory (as du counts them), with the same
/// bounded walk; None when it cannot be opened.
pub fn dir_bytes(host: &Host, abs: &str) -> Option<u64> {
    let dir = host.fs.open_dir(abs).ok()??;
    let st = nix::sys::stat::fstat(&dir).ok()?;
    let mut acc = (blocks(&st), 0u64);
    let mut budget = MAX_WALK;
    walk(dir, 1, &mut budget, &mut acc);
    Some(acc.0)
}

fn blocks(st: &FileStat) -> u64 {
    (st.st_blocks as u64).saturating_mul(512)
}

fn open_subdir(dir: BorrowedFd<'_>, name: &OsStr) -> Option<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Add up the allocated bytes and entries under `dir`; true when the
/// budget or the depth ran out.
fn walk(dir: OwnedFd, depth: usize, budget: &mut u64, acc: &mut (u64, u64)) -> bool {
    let mut truncated = false;
    for name in names_in(dir.as_fd()) {
        if *budget == 0 {
            return true;
        }
        *budget -= 1;
        let Ok(st) =
            nix::sys::stat::fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
        else {
            continue;
        };
        acc.0 = acc.0.saturating_add(blocks(&st));
        acc.1 += 1;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            if depth >= MAX_DEPTH {
                truncated = true;
            } else if let Some(sub) = open_subdir(dir.as_fd(), name.as_os_str()) {
                truncated |= walk(sub, depth + 1, budget, acc);
            }
        }
    }
    truncated
}

// ---------------------------------------------------------------------------
// Judgements

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Go on, but say it: what makes the checkpoint unrestorable later.
    Warn,
    /// Do not call docker: it cannot work.
    Refuse,
    /// The facts are not enough to tell.
    Unknown,
}

/// What a judge says: a stable id, the verdict, one sentence, the fix, and
/// one detail line per file, socket or filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub id: &'static str,
    pub verdict: Verdict,
    pub message: String,
    pub fix: Option<String>,
    pub details: Vec<String>,
}

impl Judgement {
    fn new(id: &'static str, verdict: Verdict, message: impl Into<String>) -> Self {
        Judgement {
            id,
            verdict,
            message: message.into(),
            fix: None,
            details: Vec::new(),
        }
    }

    fn fix(mut self, f: impl Into<String>) -> Self {
        self.fix = Some(f.into());
        self
    }

    fn details(mut self, d: Vec<String>) -> Self {
        self.details.extend(d);
        self
    }
}

/// What the facts could not cover: each line names what was not read.
pub fn coverage_gaps(facts: &ContainerFacts) -> Vec<String> {
    let mut gaps = Vec::new();
    let p = &facts.processes;
    if let Membership::Unknown { reason } = &p.membership {
        gaps.push(format!("the container's processes are unknown: {reason}"));
    }
    if p.truncated {
        gaps.push(format!(
            "more than {} processes: only the first {} were examined",
            p.limit, p.limit
        ));
    }
    for proc in &facts.procs {
        if let Some(e) = &proc.fds_error {
            gaps.push(format!(
                "the files of pid {} ({}) could not be read: {e}",
                proc.pid, proc.comm
            ));
        }
        if proc.fds_truncated {
            gaps.push(format!(
                "pid {} ({}) has more than {MAX_FDS} open files: only the first {MAX_FDS} were examined",
                proc.pid, proc.comm
            ));
        }
    }
    gaps
}

/// Ok with the count, Unknown when the processes could not be found,
/// Warn when the bound was hit.
pub fn judge_processes(facts: &ContainerFacts) -> Judgement {
    let p = &facts.processes;
    if let Membership::Unknown { reason } = &p.membership {
        return Judgement::new(
            "container.processes",
            Verdict::Unknown,
            format!("cannot tell which processes are the container's: {reason}"),
        );
    }
    let mut details = Vec::new();
    if p.unreadable > 0 {
        details.push(format!(
            "{} other processes' namespaces could not be read (zombies, or dockpoint is not root)",
            p.unreadable
        ));
    }
    if p.truncated {
        return Judgement::new(
            "container.processes",
            Verdict::Warn,
            format!(
                "the container has more than {} processes: only the first {} were examined",
                p.limit, p.limit
            ),
        )
        .fix("the checks below may miss sockets and files of the others")
        .details(details);
    }
    Judgement::new(
        "container.processes",
        Verdict::Ok,
        format!("{} processes", p.pids.len()),
    )
    .details(details)
}

/// The TCP options in force (runc.conf; docker passes none of its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TcpOptions {
    pub established: bool,
    pub close: bool,
    pub skip_in_flight: bool,
}

impl TcpOptions {
    /// What CRIU makes of runc.conf's text (None: there is no runc.conf).
    pub fn from_runc_conf(text: Option<&str>) -> Result<Self, crate::runc_conf::ConfError> {
        let on = |name| -> Result<bool, crate::runc_conf::ConfError> {
            Ok(match text {
                Some(t) => crate::runc_conf::effective(t, name)?.is_some(),
                None => false,
            })
        };
        Ok(TcpOptions {
            established: on("tcp-established")?,
            close: on("tcp-close")?,
            skip_in_flight: on("skip-in-flight")?,
        })
    }
}

/// CRIU's `ghost-limit` as runc.conf sets it, else the default 1 MiB.
pub fn ghost_limit(runc_conf: Option<&str>) -> Result<u64, crate::runc_conf::ConfError> {
    let value = match runc_conf {
        Some(t) => crate::runc_conf::effective(t, "ghost-limit")?,
        None => None,
    };
    Ok(value
        .as_deref()
        .and_then(criu_size)
        .unwrap_or(DEFAULT_GHOST_LIMIT))
}

/// Refuse a connected TCP socket without `tcp-established` or `tcp-close`:
/// CRIU fails the dump with `Connected TCP socket, consider using
/// --tcp-established option.`
pub fn judge_tcp(facts: &ContainerFacts, opts: TcpOptions) -> Judgement {
    const ID: &str = "container.tcp";
    let conns = &facts.tcp.connections;
    let details: Vec<String> = conns
        .iter()
        .map(|c| {
            format!(
                "{} -> {} {}, pid {} ({}) fd {}",
                c.local,
                c.remote,
                c.state.name(),
                c.pid,
                c.comm,
                c.fd
            )
        })
        .collect();
    let mut details = capped(details);
    if !opts.skip_in_flight {
        for l in facts.tcp.listeners.iter().filter(|l| l.backlog > 0) {
            details.push(format!(
                "listener {} of pid {} ({}) has {} connections not yet accepted: CRIU refuses in-flight connections without skip-in-flight",
                l.local, l.pid, l.comm, l.backlog
            ));
        }
    }
    let gaps = coverage_gaps(facts);
    let mut unread = facts.tcp.errors.clone();
    unread.retain(|e| !e.contains("/net/tcp6 does not exist"));
    if !conns.is_empty() && !opts.established && !opts.close {
        return Judgement::new(
            ID,
            Verdict::Refuse,
            format!(
                "{} connected TCP socket{} and runc.conf has neither tcp-established nor tcp-close: CRIU refuses the dump (`Connected TCP socket, consider using --tcp-established option.`)",
                conns.len(),
                if conns.len() == 1 { "" } else { "s" }
            ),
        )
        .fix("run `dockpoint setup` (it adds tcp-established to /etc/criu/runc.conf), or close the connections before the checkpoint")
        .details(details)
        .details(gaps)
        .details(unread);
    }
    if conns.is_empty() && (!gaps.is_empty() || !unread.is_empty()) {
        return Judgement::new(
            ID,
            Verdict::Unknown,
            "cannot tell whether the container holds TCP connections",
        )
        .details(gaps)
        .details(unread);
    }
    let message = if conns.is_empty() {
        "no connected TCP sockets".to_string()
    } else {
        format!(
            "{} connected TCP socket{}; runc.conf has {}",
            conns.len(),
            if conns.len() == 1 { "" } else { "s" },
            if opts.established {
                "tcp-established"
            } else {
                "tcp-close (they are restored closed)"
            }
        )
    };
    Judgement::new(ID, Verdict::Ok, message)
        .details(details)
        .details(gaps)
}

/// At most this many detail lines name files or sockets; the facts keep all.
pub const MAX_DETAILS: usize = 100;

/// The first [`MAX_DETAILS`] lines, then `... and N more`.
fn capped(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_DETAILS {
        let more = lines.len() - MAX_DETAILS;
        lines.truncate(MAX_DETAILS);
        lines.push(format!("... and {more} more"));
    }
    lines
}

/// `path (4.0 KiB, O_RDWR) held by pid 7 (app) fd 3, pid 9 (worker) fd 3`,
/// one line per path.
fn file_lines(files: &[OpenFile]) -> Vec<String> {
    let mut by_path: BTreeMap<&str, Vec<&OpenFile>> = BTreeMap::new();
    for f in files {
        by_path.entry(&f.path).or_default().push(f);
    }
    by_path
        .into_iter()
        .map(|(path, fs)| {
            let size = fs[0].size.map_or("size unknown".into(), human_bytes);
            let holders: Vec<String> = fs
                .iter()
                .map(|f| format!("pid {} ({}) fd {} {}", f.pid, f.comm, f.fd, f.mode))
                .collect();
            format!("{path} ({size}) held by {}", holders.join(", "))
        })
        .collect()
}

/// Warn about each regular file open for writing (not exactly
/// `O_WRONLY|O_APPEND`): CRIU records its size, and a restore fails once it
/// changed (`File ... has bad size N (expect M)`).
pub fn judge_open_files(facts: &ContainerFacts) -> Judgement {
    const ID: &str = "container.open-files";
    let files = &facts.writable_files;
    let gaps = coverage_gaps(facts);
    if files.is_empty() {
        if !gaps.is_empty() {
            return Judgement::new(
                ID,
                Verdict::Unknown,
                "cannot tell which files are open for writing",
            )
            .details(gaps);
        }
        return Judgement::new(
            ID,
            Verdict::Ok,
            "no files open for writing whose size CRIU checks",
        );
    }
    let paths = file_lines(files);
    Judgement::new(
        ID,
        Verdict::Warn,
        format!(
            "{} file{} open for writing: a restore fails once {} size changes after the checkpoint (`File ... has bad size`)",
            paths.len(),
            if paths.len() == 1 { "" } else { "s" },
            if paths.len() == 1 { "its" } else { "their" }
        ),
    )
    .fix("do not write to these files between checkpoint and restore (no --leave-running), or have the application close them, or open them O_WRONLY|O_APPEND, before the checkpoint")
    .details(capped(paths))
    .details(gaps)
}

/// Refuse when an open deleted file (nlink 0) has more allocated bytes
/// than `ghost_limit` (CRIU: `Can't dump ghost file ... increase limit`).
pub fn judge_deleted_files(facts: &ContainerFacts, ghost_limit: u64) -> Judgement {
    const ID: &str = "container.deleted-files";
    let files = &facts.deleted_files;
    let over: Vec<&OpenFile> = files
        .iter()
        .filter(|f| f.nlink.unwrap_or(0) == 0 && f.allocated.is_some_and(|a| a > ghost_limit))
        .collect();
    let mut details = capped(file_lines(files));
    for f in files.iter().filter(|f| f.nlink.is_some_and(|n| n > 0)) {
        details.push(format!(
            "{} is deleted but still has {} other link(s): CRIU needs link-remap for it",
            f.path,
            f.nlink.unwrap_or(0)
        ));
    }
    if !over.is_empty() {
        let biggest = over.iter().filter_map(|f| f.allocated).max().unwrap_or(0);
        return Judgement::new(
            ID,
            Verdict::Refuse,
            format!(
                "{} deleted file{} still open {} larger than CRIU's ghost-limit of {}: the dump fails (`Can't dump ghost file ... increase limit`)",
                over.len(),
                if over.len() == 1 { "" } else { "s" },
                if over.len() == 1 { "is" } else { "are" },
                human_bytes(ghost_limit)
            ),
        )
        .fix(format!(
            "add `ghost-limit {}M` to /etc/criu/runc.conf (dockpoint setup --criu-option \"ghost-limit {}M\"), or have the application close the files",
            biggest.div_ceil(1 << 20),
            biggest.div_ceil(1 << 20)
        ))
        .details(details);
    }
    let gaps = coverage_gaps(facts);
    if files.is_empty() && !gaps.is_empty() {
        return Judgement::new(
            ID,
            Verdict::Unknown,
            "cannot tell whether deleted files are open",
        )
        .details(gaps);
    }
    let message = if files.is_empty() {
        "no deleted files open".to_string()
    } else {
        format!(
            "{} deleted file{} open, within the ghost-limit of {}: CRIU copies {} into the checkpoint",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            human_bytes(ghost_limit),
            if files.len() == 1 { "it" } else { "them" }
        )
    };
    Judgement::new(ID, Verdict::Ok, message).details(details)
}

/// `needs 3.1 GiB on / (holding /tmp, /var/lib/docker), 1.2 GiB free`.
fn fs_line(fs: &FsNeed) -> String {
    let free = fs.free_bytes.map_or("free space unknown".into(), |f| {
        format!("{} free", human_bytes(f))
    });
    format!(
        "needs {} on {} (holding {}), {free}{}",
        human_bytes(fs.needed_bytes),
        fs.name,
        fs.holds.join(", "),
        if fs.tmpfs {
            " (a tmpfs: this takes RAM)"
        } else {
            ""
        }
    )
}

/// Refuse when a filesystem has less free space than the needs on it.
pub fn judge_space(plan: &[FsNeed]) -> Judgement {
    const ID: &str = "container.space";
    let short: Vec<&FsNeed> = plan.iter().filter(|f| f.fits() == Some(false)).collect();
    let details: Vec<String> = plan.iter().map(fs_line).collect();
    if !short.is_empty() {
        let lines: Vec<String> = short.iter().map(|f| fs_line(f)).collect();
        return Judgement::new(
            ID,
            Verdict::Refuse,
            format!("not enough room: {}", lines.join("; ")),
        )
        .fix(
            short
                .iter()
                .map(|f| {
                    format!(
                        "free {} on {}",
                        human_bytes(f.needed_bytes - f.free_bytes.unwrap_or(0)),
                        f.name
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
                + " (or move docker's data root or containerd's root to a larger filesystem)",
        )
        .details(details);
    }
    if plan.iter().any(|f| f.fits().is_none()) {
        return Judgement::new(
            ID,
            Verdict::Unknown,
            "cannot tell whether the checkpoint fits",
        )
        .details(details);
    }
    Judgement::new(ID, Verdict::Ok, "room for the checkpoint").details(details)
}

/// Warn about leftover containerd checkpoint directories (containerd#10166:
/// nothing removes them, they fill /tmp).
pub fn judge_leftovers(l: &Leftovers) -> Judgement {
    const ID: &str = "host.checkpoint-leftovers";
    if let Some(e) = &l.error {
        return Judgement::new(ID, Verdict::Unknown, format!("cannot list {}: {e}", l.dir));
    }
    if l.found.is_empty() {
        return Judgement::new(
            ID,
            Verdict::Ok,
            format!("no {LEFTOVER_PREFIX}* directories in {}", l.dir),
        );
    }
    let total: u64 = l.found.iter().map(|f| f.bytes).sum();
    let mut details: Vec<String> = l
        .found
        .iter()
        .map(|f| {
            format!(
                "{} ({}, {} entries)",
                f.path,
                human_bytes(f.bytes),
                f.entries
            )
        })
        .collect();
    if l.truncated {
        details.push(format!(
            "the walk stopped after {MAX_WALK} entries: sizes are at least these"
        ));
    }
    let paths: Vec<&str> = l.found.iter().map(|f| f.path.as_str()).collect();
    Judgement::new(
        ID,
        Verdict::Warn,
        format!(
            "{} leftover containerd checkpoint director{} in {} hold{} {}",
            l.found.len(),
            if l.found.len() == 1 { "y" } else { "ies" },
            l.dir,
            if l.found.len() == 1 { "s" } else { "" },
            human_bytes(total)
        ),
    )
    .fix(format!(
        "when no checkpoint or restore is running: rm -rf {}",
        paths.join(" ")
    ))
    .details(details)
}

/// Every judgement of one container's checkpoint, in the order a person
/// reads them: processes, TCP, deleted files, space (these refuse), open
/// files, leftovers (these warn).
pub fn judge_all(
    facts: &ContainerFacts,
    opts: TcpOptions,
    ghost_limit: u64,
    space: &[FsNeed],
    leftovers: &Leftovers,
) -> Vec<Judgement> {
    vec![
        judge_processes(facts),
        judge_tcp(facts, opts),
        judge_deleted_files(facts, ghost_limit),
        judge_space(space),
        judge_open_files(facts),
        judge_leftovers(leftovers),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{RecordingRunner, Term};
    use std::path::PathBuf;

    // -- fixtures ----------------------------------------------------------

    /// A fake host root in a temp dir, used as `--root`.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Self {
            Tree {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn path(&self, abs: &str) -> PathBuf {
            self.dir.path().join(abs.trim_start_matches('/'))
        }

        fn write(&self, abs: &str, text: &str) -> &Self {
            let p = self.path(abs);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            self
        }

        fn link(&self, abs: &str, target: &str) -> &Self {
            let p = self.path(abs);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
            self
        }

        fn mkdir(&self, abs: &str) -> &Self {
            std::fs::create_dir_all(self.path(abs)).unwrap();
            self
        }

        /// A process: its pid namespace link, comm and VmRSS.
        fn process(&self, pid: i32, ns: &str, comm: &str, rss_kb: u64) -> &Self {
            self.link(&format!("/proc/{pid}/ns/pid"), &format!("pid:[{ns}]"))
                .write(&format!("/proc/{pid}/comm"), &format!("{comm}\n"))
                .write(
                    &format!("/proc/{pid}/status"),
                    &format!(
                        "Name:\t{comm}\nVmPeak:\t  99999 kB\nVmRSS:\t  {rss_kb} kB\nRssAnon:\t  {rss_kb} kB\nRssFile:\t 0 kB\nRssShmem:\t 0 kB\nVmSwap:\t  4 kB\n"
                    ),
                )
                .mkdir(&format!("/proc/{pid}/fd"))
        }

        /// An open descriptor: its link and fdinfo flags (octal text).
        fn fd(&self, pid: i32, fd: i32, target: &str, flags: &str) -> &Self {
            self.link(&format!("/proc/{pid}/fd/{fd}"), target).write(
                &format!("/proc/{pid}/fdinfo/{fd}"),
                &format!("pos:\t0\nflags:\t{flags}\nmnt_id:\t31\nino:\t4242\n"),
            )
        }

        fn host(&self) -> Host {
            Host::new(
                Some(self.dir.path().to_path_buf()),
                Box::new(RecordingRunner::default()),
                Term::plain(),
            )
            .unwrap()
        }
    }

    const HOST_NS: &str = "4026531836";
    const CT_NS: &str = "4026532500";

    /// Real-looking /proc/net/tcp of a container (10.0.0.2) on a
    /// little-endian machine: a listener on 8080 with 2 connections waiting,
    /// one connection of ours, one socket no process of ours holds, and a
    /// TIME_WAIT (inode 0).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 5000 1 0000000000000000 100 0 0 10 0
   1: 0200000A:1F90 0900000A:A0C2 01 00000000:00000000 02:000A7B2D 00000000     0        0 5001 2 0000000000000000 20 4 30 10 -1
   2: 0200000A:1F91 0900000A:A0C3 01 00000000:00000000 02:000A7B2D 00000000     0        0 7777 2 0000000000000000 20 4 30 10 -1
   3: 0200000A:1F90 0900000A:A0C4 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";

    /// tcp6: ::1 listening on 80, a v4-mapped connection, a v6 one in
    /// CLOSE_WAIT.
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6000 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000200000A:1F90 0000000000000000FFFF00000900000A:C350 01 00000000:00000000 02:00000D4B 00000000     0        0 5002 2 0000000000000000 20 4 1 10 -1
   2: B80D0120000000000000000001000000:01BB B80D0120000000000000000009000000:D431 08 00000000:00000000 00:00000000 00000000  1000        0 5003 1 0000000000000000 20 4 0 10 -1
";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    // -- pure parsers --------------------------------------------------------

    #[test]
    fn tcp_lines_are_decoded() {
        let e = parse_proc_net_tcp(TCP);
        assert_eq!(e.len(), 4, "{e:?}");
        assert_eq!(e[0].local, sa("0.0.0.0:8080"));
        assert_eq!(e[0].state, TcpState::Listen);
        assert_eq!(e[0].rx_queue, 2);
        assert_eq!(e[0].inode, 5000);
        assert_eq!(e[1].local, sa("10.0.0.2:8080"));
        assert_eq!(e[1].remote, sa("10.0.0.9:41154"));
        assert_eq!(e[1].state, TcpState::Established);
        assert_eq!(e[1].inode, 5001);
        assert_eq!(e[3].state, TcpState::TimeWait);
        assert_eq!(e[3].inode, 0);
        // Malformed lines are skipped, not fatal.
        assert!(parse_proc_net_tcp("garbage\n   0: 0100007F 01\n").is_empty());
        assert!(parse_proc_net_tcp("").is_empty());
    }

    #[test]
    fn tcp6_lines_are_decoded_v4_mapped_as_ipv4() {
        let e = parse_proc_net_tcp(TCP6);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0].local, sa("[::1]:80"));
        assert_eq!(e[1].local, sa("10.0.0.2:8080"));
        assert_eq!(e[1].remote, sa("10.0.0.9:50000"));
        assert_eq!(e[2].local, sa("[2001:db8::1]:443"));
        assert_eq!(e[2].remote, sa("[2001:db8::9]:54321"));
        assert_eq!(e[2].state, TcpState::CloseWait);
        assert_eq!(parse_hex_addr("0100007F:0016"), Some(sa("127.0.0.1:22")));
        assert_eq!(parse_hex_addr("0100007F"), None);
        assert_eq!(parse_hex_addr("01007F:0016"), None);
    }

    #[test]
    fn tcp_states_criu_needs_tcp_established_for() {
        let connected: Vec<u8> = (0..=13)
            .filter(|c| TcpState::from_code(*c).is_connected())
            .collect();
        // ESTABLISHED, SYN_SENT, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING
        assert_eq!(connected, [1, 2, 4, 5, 8, 9, 11]);
        assert_eq!(TcpState::from_code(0x0A).name(), "LISTEN");
        assert_eq!(
            serde_json::to_value(TcpState::FinWait1).unwrap(),
            "FIN_WAIT1"
        );
    }

    #[test]
    fn fd_targets() {
        assert_eq!(parse_fd_target("socket:[5001]"), FdTarget::Socket(5001));
        assert_eq!(
            parse_fd_target("/data/journal"),
            FdTarget::Path {
                path: "/data/journal".into(),
                deleted: false
            }
        );
        assert_eq!(
            parse_fd_target("/data/old log (deleted)"),
            FdTarget::Path {
                path: "/data/old log".into(),
                deleted: true
            }
        );
        for other in [
            "pipe:[123]",
            "anon_inode:[eventpoll]",
            "/memfd:jit (deleted)",
            "net:[4026531840]",
            "socket:[x]",
        ] {
            assert_eq!(parse_fd_target(other), FdTarget::Other, "{other}");
        }
    }

    #[test]
    fn fdinfo_flags_and_criu_size_check() {
        assert_eq!(
            parse_fdinfo_flags("pos:\t0\nflags:\t0100002\nmnt_id:\t31\n"),
            Some(0o100002)
        );
        assert_eq!(parse_fdinfo_flags("pos:\t0\n"), None);
        // O_RDWR, O_WRONLY, O_RDWR|O_APPEND: checked and writable.
        for f in [0o100002, 0o100001, 0o102002, 0o2100001] {
            assert!(size_checked_writable(f), "{f:o}");
        }
        // O_RDONLY, O_WRONLY|O_APPEND (a log), O_RDONLY|O_APPEND.
        for f in [0o100000, 0o102001, 0o2102001, 0o102000] {
            assert!(!size_checked_writable(f), "{f:o}");
        }
    }

    #[test]
    fn flags_in_words() {
        assert_eq!(describe_flags(0o100002), "O_RDWR");
        assert_eq!(describe_flags(0o2102001), "O_WRONLY|O_APPEND|O_CLOEXEC");
        assert_eq!(describe_flags(0o4010002), "O_RDWR|O_SYNC");
        assert_eq!(describe_flags(0o10002), "O_RDWR|O_DSYNC");
        assert_eq!(describe_flags(0), "O_RDONLY");
    }

    #[test]
    fn status_memory() {
        let m = parse_status_memory(
            "Name:\tx\nVmRSS:\t    2048 kB\nRssAnon:\t 1024 kB\nRssShmem:\t 8 kB\nVmSwap:\t  16 kB\n",
        )
        .unwrap();
        assert_eq!(
            m,
            ProcMemory {
                rss: 2 << 20,
                swap: 16 << 10,
                anon: Some(1 << 20),
                shmem: Some(8 << 10)
            }
        );
        // A kernel thread or a zombie has no VmRSS.
        assert_eq!(parse_status_memory("Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn memory_estimate_prefers_the_processes() {
        let mut m = MemoryFacts {
            rss: 100,
            swap: 20,
            counted: 2,
            cgroup: Some(CgroupMemory {
                file: "x".into(),
                bytes: 5000,
            }),
            ..MemoryFacts::default()
        };
        assert_eq!(m.estimate(), Some(120));
        m.counted = 0;
        assert_eq!(m.estimate(), Some(5000));
        m.cgroup = None;
        assert_eq!(m.estimate(), None);
    }

    #[test]
    fn cgroup_files_v1_v2_hybrid() {
        assert_eq!(
            cgroup_memory_files("0::/system.slice/docker-abc.scope\n"),
            [
                "/sys/fs/cgroup/system.slice/docker-abc.scope/memory.current",
                "/sys/fs/cgroup/unified/system.slice/docker-abc.scope/memory.current"
            ]
        );
        let hybrid = "12:pids:/docker/abc\n5:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n";
        let files = cgroup_memory_files(hybrid);
        assert_eq!(
            files[0],
            "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes"
        );
        assert_eq!(files.len(), 3);
        assert_eq!(
            cgroup_memory_files("4:cpu,memory:/docker/abc\n")[0],
            "/sys/fs/cgroup/cpu,memory/docker/abc/memory.usage_in_bytes"
        );
        assert!(cgroup_memory_files("garbage\n").is_empty());
    }

    #[test]
    fn criu_sizes() {
        assert_eq!(criu_size("100M"), Some(100 << 20));
        assert_eq!(criu_size("2G"), Some(2 << 30));
        assert_eq!(criu_size("64K"), Some(64 << 10));
        assert_eq!(criu_size("1048576"), Some(1 << 20));
        assert_eq!(criu_size("M"), None);
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(900), "900 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3_328_599_655), "3.1 GiB");
        assert_eq!(human_bytes(1 << 40), "1.0 TiB");
    }

    #[test]
    fn mount_points_by_device_and_prefix() {
        let dev = nix::sys::stat::makedev(8, 1);
        let mi = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
23 22 0:21 / /tmp rw - tmpfs tmpfs rw
24 22 8:1 /srv /var/lib/docker rw - ext4 /dev/sda1 rw
25 22 8:1 / /mnt/with\\040space rw - ext4 /dev/sda1 rw
";
        assert_eq!(
            mount_point(mi, dev, "/var/lib/docker").as_deref(),
            Some("/var/lib/docker")
        );
        assert_eq!(
            mount_point(mi, dev, "/var/lib/containerd").as_deref(),
            Some("/")
        );
        assert_eq!(
            mount_point(mi, dev, "/var/lib/dockerx").as_deref(),
            Some("/")
        );
        assert_eq!(
            mount_point(mi, dev, "/mnt/with space/x").as_deref(),
            Some("/mnt/with space")
        );
        let tmpfs = nix::sys::stat::makedev(0, 21);
        assert_eq!(mount_point(mi, tmpfs, "/tmp").as_deref(), Some("/tmp"));
        assert_eq!(mount_point(mi, nix::sys::stat::makedev(9, 9), "/tmp"), None);
    }

    // -- sockets -------------------------------------------------------------

    fn owner(pid: i32, comm: &str, fd: i32) -> SocketOwner {
        SocketOwner {
            pid,
            comm: comm.into(),
            fd,
        }
    }

    #[test]
    fn sockets_are_matched_to_their_holders() {
        let mut entries = parse_proc_net_tcp(TCP);
        entries.extend(parse_proc_net_tcp(TCP6));
        let owners: HashMap<u64, Vec<SocketOwner>> = [
            (5000, vec![owner(100, "app", 3)]),
            (5001, vec![owner(100, "app", 4)]),
            (5002, vec![owner(101, "worker", 3), owner(100, "app", 5)]),
            (5003, vec![owner(101, "worker", 4)]),
        ]
        .into();
        let t = match_sockets(&entries, &owners);
        let got: Vec<(SocketAddr, SocketAddr, i32, i32, Vec<i32>)> = t
            .connections
            .iter()
            .map(|c| (c.local, c.remote, c.pid, c.fd, c.shared_with.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (sa("10.0.0.2:8080"), sa("10.0.0.9:41154"), 100, 4, vec![]),
                (sa("10.0.0.2:8080"), sa("10.0.0.9:50000"), 100, 5, vec![101]),
                (
                    sa("[2001:db8::1]:443"),
                    sa("[2001:db8::9]:54321"),
                    101,
                    4,
                    vec![]
                ),
            ]
        );
        assert_eq!(t.connections[0].comm, "app");
        // 7777 belongs to no process of ours (a host-network neighbour);
        // the ::1 listener (6000) has no holder here either.
        assert_eq!(t.listeners.len(), 1);
        assert_eq!(t.listeners[0].backlog, 2);
        assert!(
            match_sockets(&entries, &HashMap::new())
                .connections
                .is_empty()
        );
    }

    // -- fake /proc trees under --root --------------------------------------

    /// A container: init 100 (app) and 101 (worker) in CT_NS, a host
    /// process 1 and another container's 200, a process 300 whose
    /// namespace cannot be read; dockpoint itself in HOST_NS.
    fn container_tree() -> Tree {
        let t = Tree::new();
        t.link("/proc/self/ns/pid", &format!("pid:[{HOST_NS}]"))
            .process(1, HOST_NS, "init", 100)
            .process(100, CT_NS, "app", 2048)
            .process(101, CT_NS, "worker", 1024)
            .process(200, "4026532999", "other", 500)
            .write("/proc/300/comm", "zombie\n")
            .write("/proc/100/net/tcp", TCP)
            .write("/proc/100/net/tcp6", TCP6)
            .write("/proc/100/cgroup", "0::/system.slice/docker-abc.scope\n")
            .write(
                "/sys/fs/cgroup/system.slice/docker-abc.scope/memory.current",
                "9437184\n",
            )
            // app: a listener, a connection, a journal O_RDWR, a log
            // O_WRONLY|O_APPEND, a config O_RDONLY, /dev/null O_RDWR, a
            // pipe, a shm segment O_RDWR, a deleted file.
            .fd(100, 3, "socket:[5000]", "02")
            .fd(100, 4, "socket:[5001]", "02")
            .fd(100, 5, "socket:[5002]", "02")
            .fd(100, 6, "/data/journal", "0100002")
            .fd(100, 7, "/var/log/app.log", "0102001")
            .fd(100, 8, "/etc/app.conf", "0100000")
            .fd(100, 9, "/dev/null", "0100002")
            .fd(100, 10, "pipe:[9001]", "01")
            .fd(100, 11, "/dev/shm/seg", "0100002")
            .fd(100, 12, "/data/tmp.bin (deleted)", "0100002")
            .write("/proc/100/root/data/journal", "0123456789")
            .write("/proc/100/root/var/log/app.log", "log\n")
            .write("/proc/100/root/etc/app.conf", "x=1\n")
            .write("/proc/100/root/dev/shm/seg", "shm")
            .write("/proc/100/root/data/tmp.bin", "ghost")
            // worker: the shared socket, another, and the journal O_RDWR too.
            .fd(101, 3, "socket:[5002]", "02")
            .fd(101, 4, "socket:[5003]", "02")
            .fd(101, 5, "/data/journal", "02100002")
            .fd(101, 6, "socket:[7777]", "02")
            .link("/proc/101/root", "/proc/100/root")
            // The other container holds 7777 too: its netns is not ours.
            .fd(200, 3, "socket:[7777]", "02");
        t
    }

    #[test]
    fn processes_by_pid_namespace() {
        let t = container_tree();
        let p = find_processes(&t.host(), 100, MAX_PIDS);
        assert_eq!(p.pids, [100, 101]);
        assert_eq!(
            p.membership,
            Membership::PidNamespace {
                ns: format!("pid:[{CT_NS}]")
            }
        );
        // 300 has no readable namespace link: counted, not taken.
        assert_eq!(p.unreadable, 1);
        assert!(!p.truncated);
        // The bound: init first, then stop and say so.
        let p = find_processes(&t.host(), 100, 1);
        assert_eq!(p.pids, [100]);
        assert!(p.truncated);
        let j = judge_processes(&observe_processes(&t.host(), p));
        assert_eq!(j.verdict, Verdict::Warn);
        assert!(j.message.contains("more than 1 processes"), "{}", j.message);
    }

    #[test]
    fn processes_by_cgroup_when_the_init_shares_our_pid_namespace() {
        let t = container_tree();
        t.write("/proc/1/cgroup", "0::/init.scope\n")
            .process(400, HOST_NS, "hostnet", 10)
            .write("/proc/400/cgroup", "0::/system.slice/docker-h.scope\n")
            .process(401, HOST_NS, "child", 10)
            .write("/proc/401/cgroup", "0::/system.slice/docker-h.scope\n");
        let p = find_processes(&t.host(), 400, MAX_PIDS);
        assert_eq!(p.membership, Membership::Cgroup);
        assert_eq!(p.pids, [400, 401]);
    }

    #[test]
    fn processes_unknown_when_the_init_is_gone_or_unreadable() {
        let t = container_tree();
        let p = find_processes(&t.host(), 555, MAX_PIDS);
        assert!(
            matches!(&p.membership, Membership::Unknown { reason } if reason.contains("not running")),
            "{p:?}"
        );
        let p = find_processes(&t.host(), 300, MAX_PIDS);
        assert!(
            matches!(&p.membership, Membership::Unknown { reason } if reason.contains("needs root")),
            "{p:?}"
        );
        let facts = observe_processes(&t.host(), p);
        assert_eq!(judge_processes(&facts).verdict, Verdict::Unknown);
        assert_eq!(
            judge_tcp(&facts, TcpOptions::default()).verdict,
            Verdict::Unknown
        );
        assert_eq!(judge_open_files(&facts).verdict, Verdict::Unknown);
        assert_eq!(
            judge_deleted_files(&facts, DEFAULT_GHOST_LIMIT).verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn container_facts_from_a_fake_proc() {
        let t = container_tree();
        let f = observe(&t.host(), 100);
        assert_eq!(f.processes.pids, [100, 101]);
        assert_eq!(f.procs[0].comm, "app");
        assert!(
            f.procs.iter().all(|p| p.fds_error.is_none()),
            "{:?}",
            f.procs
        );

        // Sockets: those our processes hold (7777 too: worker holds it; the
        // other container's descriptor on it does not make it theirs only).
        let conns: Vec<(i32, i32, u64)> = f
            .tcp
            .connections
            .iter()
            .map(|c| (c.pid, c.fd, c.inode))
            .collect();
        assert_eq!(
            conns,
            [
                (100, 4, 5001),
                (100, 5, 5002),
                (101, 4, 5003),
                (101, 6, 7777)
            ]
        );
        assert_eq!(f.tcp.connections[1].shared_with, [101]);
        assert_eq!(f.tcp.listeners.len(), 1);
        assert!(f.tcp.errors.is_empty(), "{:?}", f.tcp.errors);

        // Files: the journal (twice), the shm segment; not the log
        // (write-append), the config (read-only), /dev/null, the pipe.
        let w: Vec<(i32, i32, &str, &str, Option<u64>)> = f
            .writable_files
            .iter()
            .map(|o| (o.pid, o.fd, o.path.as_str(), o.mode.as_str(), o.size))
            .collect();
        assert_eq!(
            w,
            [
                (100, 6, "/data/journal", "O_RDWR", Some(10)),
                (100, 11, "/dev/shm/seg", "O_RDWR", Some(3)),
                (101, 5, "/data/journal", "O_RDWR|O_CLOEXEC", Some(10)),
            ]
        );
        let d: Vec<(&str, Option<u64>)> = f
            .deleted_files
            .iter()
            .map(|o| (o.path.as_str(), o.size))
            .collect();
        assert_eq!(d, [("/data/tmp.bin", Some(5))]);

        // Memory: VmRSS + VmSwap of both; the cgroup's own figure.
        assert_eq!(f.memory.counted, 2);
        assert_eq!(f.memory.rss, (2048 + 1024) << 10);
        assert_eq!(f.memory.swap, 8 << 10);
        assert_eq!(f.memory.estimate(), Some(((2048 + 1024) << 10) + (8 << 10)));
        assert_eq!(
            f.memory.cgroup,
            Some(CgroupMemory {
                file: "/sys/fs/cgroup/system.slice/docker-abc.scope/memory.current".into(),
                bytes: 9437184
            })
        );

        // The JSON report carries it all.
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["tcp"]["connections"][0]["local"], "10.0.0.2:8080");
        assert_eq!(v["tcp"]["connections"][0]["state"], "ESTABLISHED");
        assert_eq!(v["processes"]["membership"]["by"], "pid-namespace");
    }

    #[test]
    fn a_process_that_ended_during_the_scan_holds_nothing_and_is_no_gap() {
        // Listed, then gone before its descriptors are read.
        let t = container_tree();
        std::fs::remove_dir_all(t.path("/proc/101")).unwrap();
        let scan = scan_fds(&t.host(), 101, "worker").expect("an ended process is no error");
        assert!(scan.writable.is_empty() && scan.sockets.is_empty());
    }

    #[test]
    fn unreadable_descriptors_are_gaps_not_silence() {
        let t = container_tree();
        // 101's fd directory is missing: the process is gone or hidden.
        std::fs::remove_dir_all(t.path("/proc/101/fd")).unwrap();
        let f = observe(&t.host(), 100);
        assert_eq!(f.procs[1].fds_error.as_deref(), Some("process 101 is gone"));
        let gaps = coverage_gaps(&f);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert!(gaps[0].contains("pid 101 (worker)"), "{gaps:?}");
        // Connections found still refuse; the gap is said too.
        let j = judge_tcp(&f, TcpOptions::default());
        assert_eq!(j.verdict, Verdict::Refuse);
        assert!(
            j.details.iter().any(|d| d.contains("pid 101")),
            "{:?}",
            j.details
        );
    }

    // -- judges over facts ----------------------------------------------------

    fn facts() -> ContainerFacts {
        ContainerFacts {
            init_pid: 100,
            processes: Processes::given(100, &[]),
            procs: Vec::new(),
            tcp: TcpFacts::default(),
            writable_files: Vec::new(),
            deleted_files: Vec::new(),
            memory: MemoryFacts::default(),
        }
    }

    fn conn() -> TcpConnection {
        TcpConnection {
            local: sa("10.0.0.2:8080"),
            remote: sa("10.0.0.9:41154"),
            state: TcpState::Established,
            pid: 100,
            comm: "app".into(),
            fd: 4,
            inode: 5001,
            shared_with: vec![],
        }
    }

    fn file(path: &str, pid: i32, fd: i32, flags: u32, size: u64) -> OpenFile {
        OpenFile {
            path: path.into(),
            pid,
            comm: "app".into(),
            fd,
            flags,
            mode: describe_flags(flags),
            size: Some(size),
            allocated: Some(size.div_ceil(4096) * 4096),
            nlink: Some(1),
        }
    }

    #[test]
    fn tcp_refused_without_tcp_established() {
        let mut f = facts();
        f.tcp.connections.push(conn());
        let j = judge_tcp(&f, TcpOptions::default());
        assert_eq!(j.verdict, Verdict::Refuse);
        assert!(
            j.message
                .starts_with("1 connected TCP socket and runc.conf has neither"),
            "{}",
            j.message
        );
        assert_eq!(
            j.details,
            ["10.0.0.2:8080 -> 10.0.0.9:41154 ESTABLISHED, pid 100 (app) fd 4"]
        );
        assert!(j.fix.as_deref().unwrap().contains("tcp-established"));
        for opts in [
            TcpOptions {
                established: true,
                ..TcpOptions::default()
            },
            TcpOptions {
                close: true,
                ..TcpOptions::default()
            },
        ] {
            let j = judge_tcp(&f, opts);
            assert_eq!(j.verdict, Verdict::Ok, "{opts:?}");
            assert_eq!(j.details.len(), 1);
        }
        let j = judge_tcp(&facts(), TcpOptions::default());
        assert_eq!(j.verdict, Verdict::Ok);
        assert_eq!(j.message, "no connected TCP sockets");
    }

    #[test]
    fn tcp_in_flight_listeners_are_named() {
        let mut f = facts();
        f.tcp.listeners.push(Listener {
            local: sa("0.0.0.0:8080"),
            pid: 100,
            comm: "app".into(),
            backlog: 3,
        });
        let j = judge_tcp(&f, TcpOptions::default());
        assert!(
            j.details[0].contains("3 connections not yet accepted"),
            "{:?}",
            j.details
        );
        let j = judge_tcp(
            &f,
            TcpOptions {
                skip_in_flight: true,
                ..TcpOptions::default()
            },
        );
        assert!(j.details.is_empty());
    }

    #[test]
    fn tcp_unknown_when_the_sockets_cannot_be_read() {
        let mut f = facts();
        f.tcp
            .errors
            .push("cannot open /proc/100/net/tcp: Permission denied".into());
        assert_eq!(
            judge_tcp(&f, TcpOptions::default()).verdict,
            Verdict::Unknown
        );
        // A kernel without IPv6 has no tcp6: that is not a gap.
        f.tcp.errors = vec!["/proc/100/net/tcp6 does not exist".into()];
        assert_eq!(judge_tcp(&f, TcpOptions::default()).verdict, Verdict::Ok);
    }

    #[test]
    fn open_files_warned_by_path() {
        let mut f = facts();
        assert_eq!(judge_open_files(&f).verdict, Verdict::Ok);
        f.writable_files = vec![
            file("/data/journal", 100, 6, 0o100002, 10 << 20),
            file("/data/journal", 101, 5, 0o100002, 10 << 20),
            file("/data/index", 100, 7, 0o102002, 4096),
        ];
        let j = judge_open_files(&f);
        assert_eq!(j.verdict, Verdict::Warn);
        assert!(
            j.message.starts_with("2 files open for writing"),
            "{}",
            j.message
        );
        assert_eq!(
            j.details,
            [
                "/data/index (4.0 KiB) held by pid 100 (app) fd 7 O_RDWR|O_APPEND",
                "/data/journal (10.0 MiB) held by pid 100 (app) fd 6 O_RDWR, pid 101 (app) fd 5 O_RDWR",
            ]
        );
        assert_eq!(j.verdict, Verdict::Warn);
        assert_eq!(j.details.len(), 2);
        // Thousands of files: the count is whole, the lines are capped.
        f.writable_files = (0..150)
            .map(|i| file(&format!("/data/f{i:03}"), 100, i, 0o2, 1))
            .collect();
        let j = judge_open_files(&f);
        assert!(j.message.starts_with("150 files"), "{}", j.message);
        assert_eq!(j.details.len(), MAX_DETAILS + 1);
        assert_eq!(j.details[MAX_DETAILS], "... and 50 more");
    }

    #[test]
    fn deleted_files_over_the_ghost_limit_are_refused() {
        let mut f = facts();
        let mut big = file("/data/tmp.bin", 100, 12, 0o100002, 3 << 20);
        big.nlink = Some(0);
        f.deleted_files = vec![big.clone()];
        let j = judge_deleted_files(&f, DEFAULT_GHOST_LIMIT);
        assert_eq!(j.verdict, Verdict::Refuse);
        assert!(
            j.message.contains("ghost-limit of 1.0 MiB"),
            "{}",
            j.message
        );
        assert!(
            j.fix.as_deref().unwrap().contains("ghost-limit 3M"),
            "{:?}",
            j.fix
        );
        // Within a raised limit: copied into the checkpoint.
        let j = judge_deleted_files(&f, criu_size("4M").unwrap());
        assert_eq!(j.verdict, Verdict::Ok);
        assert!(
            j.message.starts_with("1 deleted file open"),
            "{}",
            j.message
        );
        // Still linked elsewhere: not a ghost, link-remap is named.
        big.nlink = Some(1);
        f.deleted_files = vec![big];
        let j = judge_deleted_files(&f, DEFAULT_GHOST_LIMIT);
        assert_eq!(j.verdict, Verdict::Ok);
        assert!(
            j.details.iter().any(|d| d.contains("link-remap")),
            "{:?}",
            j.details
        );
    }

    #[test]
    fn options_from_runc_conf() {
        assert_eq!(
            TcpOptions::from_runc_conf(None).unwrap(),
            TcpOptions::default()
        );
        let conf = "# dockpoint\ntcp-established\nskip-in-flight\nghost-limit 50M\n";
        assert_eq!(
            TcpOptions::from_runc_conf(Some(conf)).unwrap(),
            TcpOptions {
                established: true,
                close: false,
                skip_in_flight: true
            }
        );
        let off = "tcp-established\nno-tcp-established\ntcp-close\n";
        let o = TcpOptions::from_runc_conf(Some(off)).unwrap();
        assert!(!o.established && o.close, "{o:?}");
        assert!(TcpOptions::from_runc_conf(Some("tcp-established\r\n")).is_err());
        assert_eq!(ghost_limit(Some(conf)).unwrap(), 50 << 20);
        assert_eq!(ghost_limit(Some(off)).unwrap(), DEFAULT_GHOST_LIMIT);
        assert_eq!(ghost_limit(None).unwrap(), DEFAULT_GHOST_LIMIT);
    }

    #[test]
    fn all_judgements_of_a_container() {
        let t = container_tree();
        let f = observe(&t.host(), 100);
        let conf = "tcp-established\n";
        let j = judge_all(
            &f,
            TcpOptions::from_runc_conf(Some(conf)).unwrap(),
            ghost_limit(Some(conf)).unwrap(),
            &plan_space(
                &space_needed(1),
                &[
                    loc(Place::Tmp, "/tmp", 1, 10, "/"),
                    loc(Place::ContainerdRoot, "/var/lib/containerd", 1, 10, "/"),
                    loc(Place::DockerRoot, "/var/lib/docker", 1, 10, "/"),
                ],
            ),
            &Leftovers::default(),
        );
        let got: Vec<(&str, Verdict)> = j.iter().map(|j| (j.id, j.verdict)).collect();
        assert_eq!(
            got,
            [
                ("container.processes", Verdict::Ok),
                ("container.tcp", Verdict::Ok),
                ("container.deleted-files", Verdict::Ok),
                ("container.space", Verdict::Ok),
                ("container.open-files", Verdict::Warn),
                ("host.checkpoint-leftovers", Verdict::Ok),
            ]
        );
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v[4]["verdict"], "warn");
        assert_eq!(v[4]["id"], "container.open-files");
    }

    // -- space ---------------------------------------------------------------

    fn loc(place: Place, path: &str, dev: u64, free: u64, mp: &str) -> Location {
        Location {
            place,
            path: path.into(),
            measured_at: None,
            dev: Some(dev),
            mount_point: Some(mp.into()),
            free_bytes: Some(free),
            tmpfs: false,
            error: None,
        }
    }

    const GIB: u64 = 1 << 30;

    #[test]
    fn space_needs_add_up_on_one_filesystem() {
        assert_eq!(space_needed(5).iter().map(|n| n.bytes).sum::<u64>(), 15);
        assert_eq!(
            space_needed_restore(5).iter().map(|n| n.bytes).sum::<u64>(),
            10
        );
        let one_fs = [
            loc(Place::Tmp, "/tmp", 1, 2 * GIB, "/"),
            loc(
                Place::ContainerdRoot,
                "/var/lib/containerd",
                1,
                2 * GIB,
                "/",
            ),
            loc(Place::DockerRoot, "/var/lib/docker", 1, 2 * GIB, "/"),
        ];
        // 1 GiB of memory: 3 GiB on one filesystem with 2 GiB free.
        let plan = plan_space(&space_needed(GIB), &one_fs);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].needed_bytes, 3 * GIB);
        let j = judge_space(&plan);
        assert_eq!(j.verdict, Verdict::Refuse);
        assert_eq!(
            j.message,
            "not enough room: needs 3.0 GiB on / (holding /tmp, /var/lib/containerd, /var/lib/docker), 2.0 GiB free"
        );
        assert!(
            j.fix.as_deref().unwrap().starts_with("free 1.0 GiB on /"),
            "{:?}",
            j.fix
        );
        // Each on its own filesystem, 1 GiB on each fits.
        let split = [
            loc(Place::Tmp, "/tmp", 2, 2 * GIB, "/tmp"),
            loc(
                Place::ContainerdRoot,
                "/var/lib/containerd",
                1,
                2 * GIB,
                "/",
            ),
            loc(
                Place::DockerRoot,
                "/var/lib/docker",
                3,
                2 * GIB,
                "/var/lib/docker",
            ),
        ];
        let plan = plan_space(&space_needed(GIB), &split);
        assert_eq!(plan.len(), 3);
        assert_eq!(judge_space(&plan).verdict, Verdict::Ok);
        // /tmp on tmpfs with too little room: only it is named.
        let mut tight = split.clone();
        tight[0].free_bytes = Some(GIB / 2);
        tight[0].tmpfs = true;
        let j = judge_space(&plan_space(&space_needed(GIB), &tight));
        assert_eq!(
            j.message,
            "not enough room: needs 1.0 GiB on /tmp (holding /tmp), 512.0 MiB free (a tmpfs: this takes RAM)"
        );
        // Unknown free space: cannot tell.
        let mut blind = split;
        blind[2].dev = None;
        assert_eq!(
            judge_space(&plan_space(&space_needed(GIB), &blind)).verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn space_measured_through_the_root() {
        let t = Tree::new();
        t.mkdir("/tmp").mkdir("/var/lib/docker");
        let dev = std::fs::metadata(t.path("/tmp"))
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .unwrap();
        t.write(
            "/proc/self/mountinfo",
            &format!(
                "22 1 {}:{} / / rw - ext4 /dev/sda1 rw\n",
                nix::sys::stat::major(dev),
                nix::sys::stat::minor(dev)
            ),
        );
        let host = t.host();
        let locs = observe_space(&host, &Places::new("/var/lib/docker"));
        assert_eq!(locs.len(), 3);
        for l in &locs {
            assert_eq!(l.dev, Some(dev), "{l:?}");
            assert!(l.free_bytes.is_some(), "{l:?}");
            assert_eq!(l.mount_point.as_deref(), Some("/"), "{l:?}");
            assert_eq!(l.error, None);
        }
        // containerd's root does not exist: measured where it would be made.
        assert_eq!(locs[1].measured_at.as_deref(), Some("/var/lib"));
        assert_eq!(locs[0].measured_at, None);
        // All on the temp dir's filesystem: one group, three needs.
        let plan = plan_space(&space_needed(1), &locs);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].needed_bytes, 3);
        assert_eq!(
            plan[0].holds,
            ["/tmp", "/var/lib/containerd", "/var/lib/docker"]
        );
    }

    #[test]
    fn containerd_root_of_dockers_own_containerd() {
        let t = Tree::new();
        assert_eq!(
            containerd_root_guess(&t.host(), "/var/lib/docker"),
            DEFAULT_CONTAINERD_ROOT
        );
        t.mkdir("/srv/docker/containerd/daemon");
        assert_eq!(
            containerd_root_guess(&t.host(), "/srv/docker/"),
            "/srv/docker/containerd/daemon"
        );
        // A system containerd runs: docker uses it.
        t.write("/run/containerd/containerd.sock", "");
        assert_eq!(
            containerd_root_guess(&t.host(), "/srv/docker"),
            DEFAULT_CONTAINERD_ROOT
        );
    }

    // -- leftovers -------------------------------------------------------------

    #[test]
    fn leftovers_listed_with_sizes_bounded() {
        let t = Tree::new();
        t.write("/tmp/ctrd-checkpoint111/pages-1.img", &"x".repeat(10_000))
            .write("/tmp/ctrd-checkpoint111/sub/core.img", "core")
            .write("/tmp/ctrd-checkpoint222/inventory.img", "i")
            .write("/tmp/ctrd-checkpointfile", "not a dir")
            .write("/tmp/other/big", &"y".repeat(50_000))
            .write("/outside/huge", &"z".repeat(100_000));
        // A link out of the walk is not followed.
        t.link(
            "/tmp/ctrd-checkpoint222/escape",
            &t.path("/outside").to_string_lossy(),
        );
        let l = observe_leftovers(&t.host(), "/tmp", MAX_WALK);
        assert_eq!(l.error, None);
        assert!(!l.truncated);
        let names: Vec<(&str, u64)> = l
            .found
            .iter()
            .map(|f| (f.path.as_str(), f.entries))
            .collect();
        assert_eq!(
            names,
            [
                ("/tmp/ctrd-checkpoint111", 3),
                ("/tmp/ctrd-checkpoint222", 2)
            ]
        );
        assert!(l.found[0].bytes >= 10_000, "{:?}", l.found[0]);
        assert!(l.found[1].bytes < 100_000, "{:?}", l.found[1]);
        let j = judge_leftovers(&l);
        assert_eq!(j.verdict, Verdict::Warn);
        assert!(
            j.message
                .starts_with("2 leftover containerd checkpoint directories in /tmp hold"),
            "{}",
            j.message
        );
        assert!(
            j.fix
                .as_deref()
                .unwrap()
                .ends_with("rm -rf /tmp/ctrd-checkpoint111 /tmp/ctrd-checkpoint222")
        );
        // The bound: the walk stops and says so.
        let l = observe_leftovers(&t.host(), "/tmp", 2);
        assert!(l.truncated);
        assert!(
            judge_leftovers(&l)
                .details
                .iter()
                .any(|d| d.contains("stopped"))
        );
        // None at all.
        let empty = observe_leftovers(&t.host(), "/var/tmp", MAX_WALK);
        assert!(empty.found.is_empty());
        assert_eq!(judge_leftovers(&empty).verdict, Verdict::Ok);
    }

    // -- the test process's own /proc ------------------------------------------

    #[test]
    fn own_process_real_proc() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let rw_path = dir.path().join("journal");
        let mut rw = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&rw_path)
            .unwrap();
        rw.write_all(b"12345").unwrap();
        let log_path = dir.path().join("app.log");
        let _log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log_path)
            .unwrap();
        let ro_path = dir.path().join("conf");
        std::fs::write(&ro_path, "x").unwrap();
        let _ro = std::fs::File::open(&ro_path).unwrap();
        let gone_path = dir.path().join("gone");
        let mut gone = std::fs::File::create(&gone_path).unwrap();
        gone.write_all(b"ghost!").unwrap();
        std::fs::remove_file(&gone_path).unwrap();

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();

        let me = std::process::id() as i32;
        let host = Host::new(None, Box::new(RecordingRunner::default()), Term::plain()).unwrap();
        let f = observe_processes(&host, Processes::given(me, &[me]));

        let rw_str = rw_path.to_string_lossy();
        let mine: Vec<&OpenFile> = f
            .writable_files
            .iter()
            .filter(|o| o.path.starts_with(&*dir.path().to_string_lossy()))
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].path, rw_str);
        assert_eq!(mine[0].pid, me);
        assert!(mine[0].mode.starts_with("O_RDWR"), "{}", mine[0].mode);
        assert_eq!(mine[0].size, Some(5));
        let ghost: Vec<&OpenFile> = f
            .deleted_files
            .iter()
            .filter(|o| o.path == gone_path.to_string_lossy())
            .collect();
        assert_eq!(ghost.len(), 1, "{:?}", f.deleted_files);
        assert_eq!(ghost[0].size, Some(6));
        assert_eq!(ghost[0].nlink, Some(0));

        let pair = |a: SocketAddr, b: SocketAddr| {
            f.tcp.connections.iter().any(|c| {
                c.local == a && c.remote == b && c.pid == me && c.state == TcpState::Established
            })
        };
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        assert!(pair(c, s), "{:?}", f.tcp.connections);
        assert!(pair(s, c), "{:?}", f.tcp.connections);
        assert!(
            f.tcp
                .listeners
                .iter()
                .any(|l| l.local == listener.local_addr().unwrap() && l.pid == me),
            "{:?}",
            f.tcp.listeners
        );
        assert_eq!(f.memory.counted, 1);
        assert!(f.memory.rss > 0);
        let j = judge_tcp(&f, TcpOptions::default());
        assert_eq!(j.verdict, Verdict::Refuse);
        drop((client, server, rw, gone));
    }
}
