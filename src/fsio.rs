//! Safe writes and the setup lock, all through the root handle
//! ([`crate::rootfs`]): a config file is replaced by a temp file in its own
//! directory (unpredictable name, O_EXCL), written, fsynced, read back,
//! validated, the old version backed up (O_EXCL|O_NOFOLLOW), checked that
//! nobody changed it meanwhile, then renamed into place.

use crate::host::Host;
use crate::rootfs::{self, CONFIG_LIMIT};
use anyhow::{Context, Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// What a finished write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The host path written (after a final symlink, inside the root).
    pub host_path: String,
    /// The backup of the previous version, as a person finds it.
    pub backup: Option<String>,
    /// The file was replaced, but something after the rename failed (the
    /// directory fsync): the change may not survive a crash.
    pub warning: Option<String>,
}

/// Validates the candidate: `(a path a command can open it by, its bytes)`.
pub type Validator<'a> = &'a dyn Fn(&str, &[u8]) -> Result<()>;

const TMP_MARK: &str = ".dockpoint-tmp-";
/// A backup being written: `.NAME.dockpoint-tmp-RAND.bak-partial`.
const BAK_PARTIAL: &str = ".bak-partial";
/// A backup written and fsynced, waiting for its final name:
/// `.NAME.dockpoint-tmp-RAND.bak-STAMP`.
const BAK_READY: &str = ".bak-";

fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn create_excl(dir: BorrowedFd<'_>, name: &str, mode: u32) -> nix::Result<File> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_CREAT
            | OFlag::O_EXCL
            | OFlag::O_NOFOLLOW
            | OFlag::O_WRONLY
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY,
        Mode::from_bits_truncate(mode),
    )
    .map(File::from)
}

fn unlink(dir: BorrowedFd<'_>, name: &str) {
    let _ = nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
}

/// Create a new file `<dir>/<stem><suffix>` (or `<stem>-N<suffix>` when
/// taken), O_EXCL and without following links; returns it and its path as a
/// person finds it.
pub fn create_new(
    host: &Host,
    dir_abs: &str,
    stem: &str,
    suffix: &str,
    mode: u32,
) -> Result<(File, String)> {
    let dir = host.fs.create_dir_all(dir_abs)?;
    for n in 0..100 {
        let name = if n == 0 {
            format!("{stem}{suffix}")
        } else {
            format!("{stem}-{n}{suffix}")
        };
        let shown = host
            .fs
            .display(&format!("{}/{name}", dir_abs.trim_end_matches('/')));
        match create_excl(dir.as_fd(), &name, mode) {
            Ok(f) => return Ok((f, shown)),
            Err(Errno::EEXIST) => continue,
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot create {shown}"));
            }
        }
    }
    bail!("cannot create a new file in {}", host.fs.display(dir_abs))
}

/// Clean up what a killed run left beside `name` (the setup lock is held,
/// so nothing of ours is in use): temp files are removed; a finished
/// backup that never got its final name (killed between the rename of the
/// file and that of its backup) becomes the `.bak` it was meant to be when
/// the file no longer holds its bytes, and is removed when it does (the
/// file was never replaced). A partly written backup is removed. So no
/// empty, partial or stray `.bak` is ever left.
fn recover_leftovers(dir: BorrowedFd<'_>, name: &str) {
    let prefix = format!(".{name}{TMP_MARK}");
    let name_os = os(name);
    for n in rootfs::names_in(dir) {
        let s = n.to_string_lossy().into_owned();
        if !s.starts_with(&prefix) {
            continue;
        }
        let regular = nix::sys::stat::fstatat(dir, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
            });
        if !regular {
            continue;
        }
        // `.NAME.dockpoint-tmp-RAND.bak-STAMP`: a complete backup.
        let stamp = s
            .rsplit_once(BAK_READY)
            .map(|(_, st)| st.to_string())
            .filter(|st| {
                !st.is_empty()
                    && *st != BAK_PARTIAL.trim_start_matches(BAK_READY)
                    && st.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if let Some(stamp) = stamp {
            let bytes = current(dir, &n, &s).ok().flatten();
            let now = current(dir, &name_os, name).ok().flatten();
            if bytes.is_some() && bytes != now && promote_backup(dir, &s, name, &stamp).is_ok() {
                let _ = nix::unistd::fsync(dir);
                continue;
            }
        }
        unlink(dir, &s);
    }
}

/// Rename a finished backup to `<name>.dockpoint-<stamp>.bak` (or `-N`),
/// never over an existing file. Returns the final name.
fn promote_backup(dir: BorrowedFd<'_>, from: &str, name: &str, stamp: &str) -> Result<String> {
    for n in 0..100 {
        let b = if n == 0 {
            format!("{name}.dockpoint-{stamp}.bak")
        } else {
            format!("{name}.dockpoint-{stamp}-{n}.bak")
        };
        match nix::fcntl::renameat2(
            dir,
            from,
            dir,
            b.as_str(),
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => return Ok(b),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(std::io::Error::from(e).into()),
        }
    }
    bail!("no free backup name for {name}")
}

/// Remove or recover what a killed run left beside the host file `abs`
/// (see [`recover_leftovers`]); for runs that have nothing to write too.
pub fn clean_leftovers(host: &Host, abs: &str) {
    if let Ok(t) = host.fs.target(abs, false) {
        recover_leftovers(t.dir.as_fd(), &t.name.to_string_lossy());
    }
}

/// The current bytes of `name` in `dir` (None when absent).
fn current(dir: BorrowedFd<'_>, name: &OsString, shown: &str) -> Result<Option<Vec<u8>>> {
    match rootfs::open_in(dir, name, shown)? {
        None => Ok(None),
        Some(f) => rootfs::read_bounded(f, CONFIG_LIMIT, shown).map(Some),
    }
}

fn changed_meanwhile(shown: &str) -> anyhow::Error {
    anyhow!(
        "{shown} changed while dockpoint worked (someone else wrote it after it was read); nothing was written: re-run dockpoint setup to plan from the new content"
    )
}

/// Whether a file of `size` bytes is rotated before `incoming` more: only
/// when that would pass `limit`, and never an empty one. Pure.
pub fn must_rotate(size: u64, incoming: u64, limit: u64) -> bool {
    size > 0 && size + incoming > limit
}

/// Append `bytes` to the host file `abs` (created 0640, never through a
/// link) in one write, under an exclusive lock. Before the write, a file
/// that would pass `limit` is rotated: `abs.1` .. `abs.KEEP`, newest first.
/// Returns the file's path as a person finds it.
pub fn append_rotating(
    host: &Host,
    abs: &str,
    bytes: &[u8],
    limit: u64,
    keep: usize,
) -> Result<String> {
    use nix::fcntl::{Flock, FlockArg};
    let target = host.fs.target(abs, true)?;
    let shown = host.fs.display(&target.host_path);
    let dir = target.dir.as_fd();
    let name = target.name.to_string_lossy().into_owned();
    let open = || -> Result<Flock<File>> {
        let f = nix::fcntl::openat(
            dir,
            name.as_str(),
            OFlag::O_CREAT
                | OFlag::O_APPEND
                | OFlag::O_NOFOLLOW
                | OFlag::O_WRONLY
                | OFlag::O_CLOEXEC
                | OFlag::O_NOCTTY,
            Mode::from_bits_truncate(0o640),
        )
        .map(File::from)
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot open {shown}"))?;
        Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| std::io::Error::from(e))
            .with_context(|| format!("cannot lock {shown}"))
    };
    let mut f = open()?;
    let size = nix::sys::stat::fstat(&*f).map_or(0, |st| st.st_size as u64);
    if must_rotate(size, bytes.len() as u64, limit) {
        for n in (1..keep).rev() {
            let _ = nix::fcntl::renameat(
                dir,
                format!("{name}.{n}").as_str(),
                dir,
                format!("{name}.{}", n + 1).as_str(),
            );
        }
        nix::fcntl::renameat(dir, name.as_str(), dir, format!("{name}.1").as_str())
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot rotate {shown}"))?;
        drop(f);
        f = open()?;
    }
    f.write_all(bytes)
        .with_context(|| format!("cannot append to {shown}"))?;
    Ok(shown)
}

/// Replace the host file `abs` with `new`, provided it still holds
/// `expected` (the bytes the plan was made from; None: it did not exist).
/// On any error before the rename, nothing is changed: no temp file and no
/// backup are left.
pub fn write_file(
    host: &Host,
    abs: &str,
    expected: Option<&[u8]>,
    new: &[u8],
    validate: Validator<'_>,
) -> Result<Written> {
    let target = host.fs.target(abs, true)?;
    let shown = host.fs.display(&target.host_path);
    let dir = target.dir.as_fd();
    let name = target.name.clone();
    let name_s = name.to_string_lossy().into_owned();
    recover_leftovers(dir, &name_s);

    // One open of the current file: its bytes, owner and mode, and xattrs.
    let (old, old_meta, old_xattrs) = match rootfs::open_in(dir, &name, &shown)? {
        None => (None, None, Vec::new()),
        Some(f) => {
            let meta = nix::sys::stat::fstat(&f)
                .map_err(std::io::Error::from)
                .with_context(|| format!("cannot stat {shown}"))?;
            let xattrs = xattrs_of(&f);
            let bytes = rootfs::read_bounded(f, CONFIG_LIMIT, &shown)?;
            (Some(bytes), Some(meta), xattrs)
        }
    };
    if old.as_deref() != expected {
        return Err(changed_meanwhile(&shown));
    }

    let tmp = format!(".{name_s}{TMP_MARK}{}", random_suffix());
    let mut backup: Option<String> = None;
    let result = (|| -> Result<()> {
        let mode = old_meta.as_ref().map_or(0o644, |m| m.st_mode & 0o7777);
        let mut f = create_excl(dir, &tmp, 0o600)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot create a temp file next to {shown}"))?;
        f.write_all(new)
            .with_context(|| format!("cannot write the new {shown} (temp file {tmp})"))?;
        if let Some(m) = &old_meta {
            std::os::unix::fs::fchown(&f, Some(m.st_uid), Some(m.st_gid))
                .with_context(|| format!("cannot give the new {shown} its owner"))?;
        }
        nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(mode))
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot give the new {shown} its mode"))?;
        for (k, v) in &old_xattrs {
            use xattr::FileExt;
            // Keep what can be kept (security.* needs privileges).
            let _ = f.set_xattr(k, v);
        }
        f.sync_all()
            .with_context(|| format!("cannot fsync the new {shown}"))?;
        drop(f);
        let back = current(dir, &os(&tmp), &shown)?;
        if back.as_deref() != Some(new) {
            bail!("the new {shown} does not read back as written; nothing was changed");
        }
        let rf = rootfs::open_in(dir, &os(&tmp), &shown)?.context("the temp file vanished")?;
        let via = format!("/proc/{}/fd/{}", std::process::id(), rf.as_raw_fd());
        validate(&via, new)
            .with_context(|| format!("the new {shown} failed validation; nothing was changed"))?;
        drop(rf);
        if let (Some(old), Some(m)) = (&old, &old_meta) {
            backup = Some(write_backup(dir, &tmp, &shown, old, m)?);
        }
        // The last look: the file still holds what the plan was made from.
        if current(dir, &name, &shown)?.as_deref() != expected {
            return Err(changed_meanwhile(&shown));
        }
        nix::fcntl::renameat(dir, tmp.as_str(), dir, name.as_os_str())
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot rename the temp file onto {shown}"))?;
        Ok(())
    })();
    if let Err(e) = result {
        unlink(dir, &tmp);
        if let Some(b) = &backup {
            unlink(dir, b);
        }
        return Err(e);
    }
    // The file is replaced: from here on, a failure is a warning. The
    // backup gets its final name (a kill before this is recovered by the
    // next run: see recover_leftovers).
    let mut warnings = Vec::new();
    let parent = target.host_path.rsplit_once('/').map_or("", |(p, _)| p);
    let backup = match backup {
        None => None,
        Some(b) => {
            let stamp = b.rsplit_once(BAK_READY).map_or("", |(_, s)| s).to_string();
            match promote_backup(dir, &b, &name_s, &stamp) {
                Ok(f) => Some(host.fs.display(&format!("{parent}/{f}"))),
                Err(e) => {
                    warnings.push(format!(
                        "the backup of {shown} could not be given its name ({e:#}); it is {}",
                        host.fs.display(&format!("{parent}/{b}"))
                    ));
                    None
                }
            }
        }
    };
    if let Err(e) = nix::unistd::fsync(dir) {
        warnings.push(format!(
            "{shown} was replaced, but the directory could not be fsynced ({e}): the change may not survive a power loss"
        ));
    }
    Ok(Written {
        host_path: target.host_path.clone(),
        backup,
        warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
    })
}

/// The old version, written beside the file under a temp name (O_EXCL,
/// O_NOFOLLOW: a planted link is never followed) with the old owner and
/// mode, fsynced, then marked complete by a rename to
/// `.NAME.dockpoint-tmp-RAND.bak-STAMP`. Returns that name.
fn write_backup(
    dir: BorrowedFd<'_>,
    tmp: &str,
    shown: &str,
    old: &[u8],
    m: &nix::sys::stat::FileStat,
) -> Result<String> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let partial = format!("{tmp}{BAK_PARTIAL}");
    let ready = format!("{tmp}{BAK_READY}{stamp}");
    let mut f = create_excl(dir, &partial, m.st_mode & 0o777)
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot create the backup of {shown}"))?;
    let done = f
        .write_all(old)
        .and_then(|_| {
            let _ = std::os::unix::fs::fchown(&f, Some(m.st_uid), Some(m.st_gid));
            f.sync_all()
        })
        .map_err(anyhow::Error::from)
        .and_then(|_| {
            nix::fcntl::renameat(dir, partial.as_str(), dir, ready.as_str())
                .map_err(|e| std::io::Error::from(e).into())
        })
        .with_context(|| format!("cannot write the backup of {shown}"));
    if let Err(e) = done {
        unlink(dir, &partial);
        return Err(e);
    }
    Ok(ready)
}

fn xattrs_of(f: &File) -> Vec<(OsString, Vec<u8>)> {
    use xattr::FileExt;
    let Ok(names) = f.list_xattr() else {
        return Vec::new();
    };
    names
        .filter_map(|n| {
            let v = f.get_xattr(&n).ok()??;
            Some((n, v))
        })
        .collect()
}

/// Undo a write: put `old` back (None: remove the file dockpoint created),
/// provided the file still holds `ours`.
pub fn restore(host: &Host, abs: &str, ours: &[u8], old: Option<&[u8]>) -> Result<String> {
    let shown = host.fs.display(abs);
    match old {
        Some(old) => {
            write_file(host, abs, Some(ours), old, &|_, _| Ok(()))?;
            Ok(format!("restored the previous {shown}"))
        }
        None => {
            let t = host.fs.target(abs, false)?;
            if current(t.dir.as_fd(), &t.name, &shown)?.as_deref() != Some(ours) {
                return Err(changed_meanwhile(&shown));
            }
            nix::unistd::unlinkat(
                t.dir.as_fd(),
                t.name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            )
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot remove {shown}"))?;
            Ok(format!("removed {shown} (it did not exist before)"))
        }
    }
}

/// Write a file dockpoint itself owns (a checkpoint's record, an outcome, a
/// kept CRIU log): a temp file in the same directory, fsynced, renamed over
/// whatever was there. No backup: nobody else edits these.
pub fn write_state(host: &Host, abs: &str, new: &[u8]) -> Result<()> {
    let target = host.fs.target(abs, true)?;
    let shown = host.fs.display(&target.host_path);
    let dir = target.dir.as_fd();
    let name_s = target.name.to_string_lossy().into_owned();
    let tmp = format!(".{name_s}{TMP_MARK}{}", random_suffix());
    let r = (|| -> Result<()> {
        let mut f = create_excl(dir, &tmp, 0o644)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot create a temp file next to {shown}"))?;
        f.write_all(new)
            .with_context(|| format!("cannot write {shown} (temp file {tmp})"))?;
        f.sync_all()
            .with_context(|| format!("cannot fsync {shown}"))?;
        drop(f);
        nix::fcntl::renameat(dir, tmp.as_str(), dir, target.name.as_os_str())
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot rename the temp file onto {shown}"))?;
        Ok(())
    })();
    if r.is_err() {
        unlink(dir, &tmp);
    }
    r
}

/// Remove a directory and everything in it (at most `MAX_TREE_DEPTH` deep),
/// through the door, never following a link. The bytes freed (allocated
/// blocks).
pub fn remove_tree(host: &Host, abs: &str) -> Result<u64> {
    let shown = host.fs.display(abs);
    // The parent through the door; the tree itself never through a link.
    let (parent, name) = abs
        .trim_end_matches('/')
        .rsplit_once('/')
        .filter(|(_, n)| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| anyhow!("{shown}: not a directory dockpoint removes"))?;
    let parent = host
        .fs
        .open_dir(if parent.is_empty() { "/" } else { parent })?
        .ok_or_else(|| anyhow!("{shown}: its directory does not exist"))?;
    let t = rootfs::Target {
        dir: parent,
        name: OsString::from(name),
        host_path: String::new(),
    };
    let dir = nix::fcntl::openat(
        t.dir.as_fd(),
        t.name.as_os_str(),
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("cannot open {shown}"))?;
    let freed = empty_tree(dir, 0).with_context(|| format!("cannot empty {shown}"))?;
    nix::unistd::unlinkat(
        t.dir.as_fd(),
        t.name.as_os_str(),
        nix::unistd::UnlinkatFlags::RemoveDir,
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("cannot remove {shown}"))?;
    Ok(freed)
}

/// How deep [`remove_tree`] goes.
pub const MAX_TREE_DEPTH: usize = 8;

fn empty_tree(dir: std::os::fd::OwnedFd, depth: usize) -> Result<u64> {
    let mut freed = 0u64;
    for name in rootfs::names_in(dir.as_fd()) {
        let st =
            nix::sys::stat::fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(std::io::Error::from)?;
        freed += (st.st_blocks as u64) * 512;
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir {
            if depth + 1 >= MAX_TREE_DEPTH {
                bail!("more than {MAX_TREE_DEPTH} levels deep: {:?}", name);
            }
            let sub = nix::fcntl::openat(
                dir.as_fd(),
                name.as_os_str(),
                OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(std::io::Error::from)?;
            freed += empty_tree(sub, depth + 1)?;
        }
        nix::unistd::unlinkat(
            dir.as_fd(),
            name.as_os_str(),
            if is_dir {
                nix::unistd::UnlinkatFlags::RemoveDir
            } else {
                nix::unistd::UnlinkatFlags::NoRemoveDir
            },
        )
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot remove {name:?}"))?;
    }
    Ok(freed)
}

/// The one lock that serialises runs that change a root. As root it is a
/// root-owned file only root can open, `/run/dockpoint/root-<dev>-<ino>.lock`
/// on the machine (nothing is left in an image); as another user (an image
/// root of their own) it is the root directory itself.
pub struct SetupLock {
    _posix: Option<File>,
    _flock: Option<nix::fcntl::Flock<File>>,
}

/// The pid holding a POSIX write-conflicting lock on `f`, if any (F_GETLK).
pub fn lock_holder(f: &File) -> Option<i32> {
    use nix::fcntl::{FcntlArg, fcntl};
    let mut fl = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(f, FcntlArg::F_GETLK(&mut fl)).ok()?;
    (fl.l_type != nix::libc::F_UNLCK as i16).then_some(fl.l_pid)
}

/// Who holds a POSIX lock on `f`: pid and command line (the machine's /proc).
fn holder(f: &File) -> Option<(i32, String)> {
    let pid = lock_holder(f)?;
    let cmd = crate::rootfs::Root::live()
        .ok()
        .and_then(|proc| proc.cmdline(pid, 1 << 16))
        .map(|argv| argv.join(" "))
        .unwrap_or_else(|| "?".into());
    Some((pid, cmd))
}

fn try_lock(f: &File) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, fcntl};
    let fl = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(f, FcntlArg::F_SETLK(&fl)).map(|_| ())
}

/// `/run/dockpoint`, root's own: created 0700, refused if it is a link, not
/// root's, or writable by others.
fn lock_dir() -> Result<File> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = "/run/dockpoint";
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {dir}")),
    }
    let f: File = nix::fcntl::open(
        dir,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(std::io::Error::from)
    .with_context(|| format!("cannot open {dir} (it must be a directory, not a link)"))?;
    let m = f.metadata()?;
    if m.uid() != 0 || m.mode() & 0o022 != 0 {
        bail!(
            "{dir} is not root's own directory (owner uid {}, mode {:o}): remove it and re-run",
            m.uid(),
            m.mode() & 0o7777
        );
    }
    Ok(f)
}

fn lock_name(dev: u64, ino: u64) -> String {
    format!("root-{dev}-{ino}.lock")
}

/// Remove the lock files of roots that no longer exist (temp roots, old
/// images), never one in use: each is locked before it is judged.
fn prune_stale_locks(dir: &File, ours: &str) {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    for n in rootfs::names_in(dir.as_fd()) {
        let n = n.to_string_lossy().into_owned();
        if n == ours || !n.starts_with("root-") || !n.ends_with(".lock") {
            continue;
        }
        let Ok(f) = nix::fcntl::openat(
            dir.as_fd(),
            n.as_str(),
            OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(File::from) else {
            continue;
        };
        if try_lock(&f).is_err() {
            continue; // in use
        }
        let mut recorded = String::new();
        let _ = (&f).take(4096).read_to_string(&mut recorded);
        let stale = match std::fs::metadata(recorded.trim()) {
            Ok(m) => lock_name(m.dev(), m.ino()) != n,
            Err(_) => true,
        };
        if stale && !recorded.is_empty() {
            unlink(dir.as_fd(), &n);
        }
    }
}

impl SetupLock {
    /// Take the lock, waiting up to `wait`; `on_wait` is told who holds it.
    pub fn acquire(host: &Host, wait: std::time::Duration, on_wait: &dyn Fn(&str)) -> Result<Self> {
        let deadline = std::time::Instant::now() + wait;
        let timed_out = |who: &str| {
            anyhow!(
                "{who} holds the dockpoint setup lock for {} for more than {}s; wait for it to finish (or stop it), then re-run",
                host.fs.path().display(),
                wait.as_secs()
            )
        };
        let mut told = false;
        if !nix::unistd::geteuid().is_root() {
            // Not root: only an image root of one's own can be set up; its
            // directory is the lock.
            use nix::fcntl::{Flock, FlockArg};
            let mut f: File = host
                .fs
                .open_dir("/")?
                .map(File::from)
                .context("the root directory vanished")?;
            loop {
                match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                    Ok(l) => {
                        return Ok(SetupLock {
                            _posix: None,
                            _flock: Some(l),
                        });
                    }
                    Err((back, Errno::EWOULDBLOCK)) => {
                        if !told {
                            on_wait("another dockpoint run");
                            told = true;
                        }
                        if std::time::Instant::now() >= deadline {
                            return Err(timed_out("another dockpoint run"));
                        }
                        f = back;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    Err((_, e)) => {
                        return Err(std::io::Error::from(e))
                            .context("cannot lock the root directory");
                    }
                }
            }
        }
        let st = host
            .fs
            .stat("/")
            .context("cannot stat the root directory")?;
        let dir = lock_dir()?;
        let name = lock_name(st.st_dev, st.st_ino);
        prune_stale_locks(&dir, &name);
        let file: File = nix::fcntl::openat(
            dir.as_fd(),
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map(File::from)
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot open the lock /run/dockpoint/{name}"))?;
        loop {
            match try_lock(&file) {
                Ok(()) => {
                    // Say which root the lock is for, so a later run can
                    // remove it once that root is gone.
                    if let Ok(p) = std::fs::canonicalize(host.fs.path()) {
                        let _ = file.set_len(0);
                        let _ = (&file).write_all(p.as_os_str().as_encoded_bytes());
                    }
                    return Ok(SetupLock {
                        _posix: Some(file),
                        _flock: None,
                    });
                }
                Err(Errno::EACCES | Errno::EAGAIN) => {
                    let who = holder(&file)
                        .map(|(pid, cmd)| format!("pid {pid} ({cmd})"))
                        .unwrap_or_else(|| "another process".into());
                    if !told {
                        on_wait(&who);
                        told = true;
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err(timed_out(&who));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(std::io::Error::from(e)).context("cannot take the setup lock");
                }
            }
        }
    }
}

#[cfg(test)]
mod tree_tests {
    use super::*;
    use crate::host::Term;
    use crate::runner::RecordingRunner;

    #[test]
    fn state_files_are_replaced_whole_without_a_backup() {
        let root = tempfile::tempdir().unwrap();
        let host = Host::new(
            Some(root.path().to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        write_state(&host, "/var/lib/dockpoint/boot/bela.json", b"one").unwrap();
        write_state(&host, "/var/lib/dockpoint/boot/bela.json", b"two").unwrap();
        let dir = root.path().join("var/lib/dockpoint/boot");
        assert_eq!(std::fs::read(dir.join("bela.json")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temp or backup left: {names:?}");
    }

    /// Under --root: the tree goes, a link in it is removed (not followed),
    /// and what it pointed at, outside the tree, stays.
    #[test]
    fn remove_tree_removes_the_tree_and_never_follows_a_link() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("tmp/ctrd-checkpoint1/sub/deeper")).unwrap();
        std::fs::write(
            r.join("tmp/ctrd-checkpoint1/pages-1.img"),
            vec![7u8; 10_000],
        )
        .unwrap();
        std::fs::write(r.join("tmp/ctrd-checkpoint1/sub/deeper/x"), "x").unwrap();
        std::fs::create_dir_all(r.join("keep")).unwrap();
        std::fs::write(r.join("keep/precious"), "mine").unwrap();
        std::os::unix::fs::symlink("/keep", r.join("tmp/ctrd-checkpoint1/link")).unwrap();
        std::os::unix::fs::symlink("../../keep", r.join("tmp/ctrd-checkpoint1/sub/rel")).unwrap();
        let host = Host::new(
            Some(r.to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        let freed = remove_tree(&host, "/tmp/ctrd-checkpoint1").unwrap();
        assert!(freed >= 10_000, "{freed}");
        assert!(!r.join("tmp/ctrd-checkpoint1").exists());
        assert!(r.join("tmp").is_dir());
        assert_eq!(
            std::fs::read_to_string(r.join("keep/precious")).unwrap(),
            "mine"
        );
        // Nothing there: an error naming it, nothing touched.
        let e = remove_tree(&host, "/tmp/ctrd-checkpoint1").unwrap_err();
        assert!(format!("{e:#}").contains("ctrd-checkpoint1"), "{e:#}");
        // A link as the tree itself is refused, not followed.
        std::os::unix::fs::symlink("/keep", r.join("tmp/ctrd-checkpoint2")).unwrap();
        assert!(remove_tree(&host, "/tmp/ctrd-checkpoint2").is_err());
        assert_eq!(
            std::fs::read_to_string(r.join("keep/precious")).unwrap(),
            "mine"
        );
    }
}
