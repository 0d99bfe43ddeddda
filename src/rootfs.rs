//! The one door to the host's files. Every path dockpoint reads, writes,
//! creates or lists is a host path (`/etc/criu/runc.conf`) resolved by the
//! kernel inside a root directory handle with `openat2(RESOLVE_IN_ROOT)`:
//! under `--root DIR` absolute symlinks and `..` stay inside DIR, exactly as
//! if DIR were `/`. No other module joins paths onto the root.
//!
//! Reads take regular files only (a FIFO, device, socket or directory where
//! a file is expected is refused at once, never blocked on) and are bounded.

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The largest config file dockpoint reads (dockerd refuses a daemon.json
/// over 10 MiB: the same bound here).
pub const CONFIG_LIMIT: u64 = 10 << 20;

/// How deep symlink chains are followed, like the kernel's ELOOP bound.
const MAX_LINKS: usize = 40;

/// A directory treated as `/`.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// What kind of file a host path names (after following links inside the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Other,
}

/// A file's target for a write: its directory (opened inside the root), its
/// name there, and the host path it was reached by after following a final
/// symlink (the path written).
#[derive(Debug)]
pub struct Target {
    pub dir: OwnedFd,
    pub name: OsString,
    pub host_path: String,
}

fn how(flags: OFlag) -> OpenHow {
    // openat2 refuses flags O_PATH ignores (O_NOCTTY) with EINVAL.
    let extra = if flags.contains(OFlag::O_PATH) {
        OFlag::O_CLOEXEC
    } else {
        OFlag::O_CLOEXEC | OFlag::O_NOCTTY
    };
    OpenHow::new()
        .flags(flags | extra)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// The kind of an open file.
fn kind_of(st: &FileStat) -> Kind {
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFDIR => Kind::Dir,
        _ => Kind::Other,
    }
}

/// A word for what a non-regular file is, for refusals.
pub fn describe_mode(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO (named pipe)",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFLNK => "a symbolic link",
        _ => "not a regular file",
    }
}

/// Split a host path into its parent and last component.
fn split(abs: &str) -> Result<(String, OsString)> {
    let trimmed = abs.trim_end_matches('/');
    let (parent, name) = match trimmed.rsplit_once('/') {
        Some((p, n)) => (if p.is_empty() { "/" } else { p }, n),
        None => ("/", trimmed),
    };
    if name.is_empty() || name == "." || name == ".." {
        bail!("{abs}: not a file path");
    }
    Ok((parent.to_string(), OsString::from(name)))
}

/// Join a symlink's target onto the directory holding the link. The kernel
/// resolves `..` after following the earlier links, so no lexical clean-up.
fn join_link(parent: &str, target: &Path) -> String {
    let t = target.to_string_lossy();
    if t.starts_with('/') {
        t.into_owned()
    } else if parent == "/" {
        format!("/{t}")
    } else {
        format!("{parent}/{t}")
    }
}

impl Root {
    /// Open DIR as the root. It must be a directory.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(std::io::Error::from)
        .with_context(|| format!("{}: not a directory", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The machine's own `/`.
    pub fn live() -> Result<Root> {
        Root::open(Path::new("/"))
    }

    /// The directory given as the root (for display, and for `chroot`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the root is the machine's `/`.
    pub fn is_slash(&self) -> bool {
        self.path == Path::new("/")
    }

    /// A host path as a person finds it from outside: `/etc/x` on the live
    /// system, `DIR/etc/x` under `--root DIR`.
    pub fn display(&self, abs: &str) -> String {
        if self.is_slash() {
            abs.to_string()
        } else {
            format!(
                "{}/{}",
                self.path.display().to_string().trim_end_matches('/'),
                abs.trim_start_matches('/')
            )
        }
    }

    fn open_raw(&self, abs: &str, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel = if abs.is_empty() { "/" } else { abs };
        nix::fcntl::openat2(self.fd.as_fd(), rel, how(flags))
    }

    /// Open a regular file for reading. Never blocks on a FIFO and never
    /// opens a device: anything but a regular file is refused with the path.
    /// `Ok(None)` when it does not exist.
    pub fn open_file(&self, abs: &str) -> Result<Option<File>> {
        let fd = match self.open_raw(abs, OFlag::O_RDONLY | OFlag::O_NONBLOCK) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ENXIO) => bail!(
                "{}: is a socket; expected a regular file",
                self.display(abs)
            ),
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot open {}", self.display(abs)));
            }
        };
        let st = nix::sys::stat::fstat(&fd)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot stat {}", self.display(abs)))?;
        if kind_of(&st) != Kind::File {
            bail!(
                "{} is {}, not a regular file: dockpoint reads only regular files there",
                self.display(abs),
                describe_mode(st.st_mode)
            );
        }
        // Back to blocking reads (a regular file never blocks anyway).
        let flags =
            nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).map_err(std::io::Error::from)?;
        let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags))
            .map_err(std::io::Error::from)?;
        Ok(Some(File::from(fd)))
    }

    /// The bytes of a regular file, at most `limit` of them (a larger file
    /// is an error naming it). `Ok(None)` when it does not exist.
    pub fn read(&self, abs: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(f) = self.open_file(abs)? else {
            return Ok(None);
        };
        read_bounded(f, limit, &self.display(abs)).map(Some)
    }

    /// The last `max` bytes of a regular file (a log), as text from its
    /// first whole line; None when it cannot be read.
    pub fn read_tail(&self, abs: &str, max: u64) -> Option<String> {
        use std::io::{Seek, SeekFrom};
        let mut f = self.open_file(abs).ok()??;
        let len = f.metadata().ok()?.len();
        let start = len.saturating_sub(max);
        f.seek(SeekFrom::Start(start)).ok()?;
        let mut buf = Vec::new();
        f.take(max).read_to_end(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        Some(match (start > 0, text.split_once('\n')) {
            (true, Some((_, rest))) => rest.to_string(),
            _ => text,
        })
    }

    /// The argv of process `pid` as this root's /proc shows it (at most
    /// `limit` bytes read); None when it cannot be read.
    pub fn cmdline(&self, pid: i32, limit: u64) -> Option<Vec<String>> {
        let raw = self.read(&format!("/proc/{pid}/cmdline"), limit).ok()??;
        Some(
            raw.split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        )
    }

    /// A config file as text: bounded by [`CONFIG_LIMIT`], UTF-8 checked.
    pub fn read_text(&self, abs: &str) -> Result<Option<String>> {
        match self.read(abs, CONFIG_LIMIT)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b).map(Some).map_err(|_| {
                anyhow::anyhow!("{} is not UTF-8 text; fix it by hand", self.display(abs))
            }),
        }
    }

    /// For detection only: the text of a small file, or None for any reason.
    pub fn read_quiet(&self, abs: &str) -> Option<String> {
        self.read(abs, CONFIG_LIMIT)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// What the path names after following links inside the root, or None.
    pub fn kind(&self, abs: &str) -> Option<Kind> {
        let fd = self.open_raw(abs, OFlag::O_PATH).ok()?;
        nix::sys::stat::fstat(&fd).ok().map(|s| kind_of(&s))
    }

    pub fn is_file(&self, abs: &str) -> bool {
        self.kind(abs) == Some(Kind::File)
    }

    pub fn is_dir(&self, abs: &str) -> bool {
        self.kind(abs) == Some(Kind::Dir)
    }

    pub fn exists(&self, abs: &str) -> bool {
        self.kind(abs).is_some()
    }

    /// The target of the link `abs` itself (its directory is resolved inside
    /// the root; the link is read, not followed: /proc's magic namespace
    /// links can be read this way). None when it is not a link.
    pub fn read_link(&self, abs: &str) -> Option<String> {
        let (parent, name) = split(abs).ok()?;
        let dir = self.open_dir(&parent).ok()??;
        nix::fcntl::readlinkat(dir.as_fd(), name.as_os_str())
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    }

    /// The status of the path (following links inside the root).
    pub fn stat(&self, abs: &str) -> Option<FileStat> {
        let fd = self.open_raw(abs, OFlag::O_PATH).ok()?;
        nix::sys::stat::fstat(&fd).ok()
    }

    /// Open a directory inside the root.
    pub fn open_dir(&self, abs: &str) -> Result<Option<OwnedFd>> {
        match self.open_raw(abs, OFlag::O_DIRECTORY | OFlag::O_RDONLY) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(std::io::Error::from(e))
                .with_context(|| format!("cannot open directory {}", self.display(abs))),
        }
    }

    /// The names in a directory, sorted; empty when it does not exist.
    pub fn read_dir(&self, abs: &str) -> Result<Vec<String>> {
        let Some(fd) = self.open_dir(abs)? else {
            return Ok(Vec::new());
        };
        let dir = nix::dir::Dir::from_fd(fd)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot list {}", self.display(abs)))?;
        let mut names: Vec<String> = dir
            .into_iter()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        Ok(names)
    }

    /// `mkdir -p` inside the root; a dangling link on the way is followed
    /// inside the root too. Returns the directory, opened.
    pub fn create_dir_all(&self, abs: &str) -> Result<OwnedFd> {
        self.create_dir_all_depth(abs, 0)
    }

    fn create_dir_all_depth(&self, abs: &str, depth: usize) -> Result<OwnedFd> {
        if depth > MAX_LINKS {
            bail!("{}: too many levels of symbolic links", self.display(abs));
        }
        if let Some(fd) = self.open_dir(abs)? {
            return Ok(fd);
        }
        let (parent, name) = split(abs)?;
        let pfd = self.create_dir_all_depth(&parent, depth + 1)?;
        match nix::sys::stat::mkdirat(
            pfd.as_fd(),
            name.as_os_str(),
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // A dangling symlink: create what it points to, inside the root.
                if let Ok(t) = nix::fcntl::readlinkat(pfd.as_fd(), name.as_os_str()) {
                    let next = join_link(&parent, Path::new(&t));
                    return self.create_dir_all_depth(&next, depth + 1);
                }
            }
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot create directory {}", self.display(abs)));
            }
        }
        self.open_dir(abs)?
            .with_context(|| format!("{} vanished after it was created", self.display(abs)))
    }

    /// Where a write to `abs` lands: its directory (created when `create`),
    /// and its name there, after following a symlink in the last component
    /// inside the root (an image's `daemon.json -> /srv/x.json` is written
    /// at `DIR/srv/x.json`).
    pub fn target(&self, abs: &str, create: bool) -> Result<Target> {
        let mut cur = abs.to_string();
        for _ in 0..MAX_LINKS {
            let (parent, name) = split(&cur)?;
            let dir = if create {
                self.create_dir_all(&parent)?
            } else {
                match self.open_dir(&parent)? {
                    Some(d) => d,
                    None => bail!("{}: no such directory", self.display(&parent)),
                }
            };
            match nix::sys::stat::fstatat(
                dir.as_fd(),
                name.as_os_str(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(st)
                    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK =>
                {
                    let t = nix::fcntl::readlinkat(dir.as_fd(), name.as_os_str())
                        .map_err(std::io::Error::from)
                        .with_context(|| format!("cannot read link {}", self.display(&cur)))?;
                    cur = join_link(&parent, Path::new(&t));
                }
                _ => {
                    return Ok(Target {
                        dir,
                        name,
                        host_path: cur,
                    });
                }
            }
        }
        bail!("{}: too many levels of symbolic links", self.display(abs))
    }
}

/// Read all of `f`, refusing more than `limit` bytes.
pub fn read_bounded(f: File, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > limit {
        bail!(
            "{what} is larger than {} MiB: not a config file dockpoint will read",
            limit >> 20
        );
    }
    Ok(buf)
}

/// A file in `dir`, opened without following a link; None when absent.
/// Anything but a regular file is an error.
pub fn open_in(dir: BorrowedFd<'_>, name: &OsString, what: &str) -> Result<Option<File>> {
    let fd = match nix::fcntl::openat(
        dir,
        name.as_os_str(),
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => {
            return Err(std::io::Error::from(e)).with_context(|| format!("cannot open {what}"));
        }
    };
    let st = nix::sys::stat::fstat(&fd).map_err(std::io::Error::from)?;
    if kind_of(&st) != Kind::File {
        bail!(
            "{what} is {}, not a regular file",
            describe_mode(st.st_mode)
        );
    }
    Ok(Some(File::from(fd)))
}

/// The names of a directory fd's entries.
pub fn names_in(dir: BorrowedFd<'_>) -> Vec<OsString> {
    let Ok(dup) = nix::fcntl::openat(
        dir,
        ".",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return Vec::new();
    };
    let Ok(d) = nix::dir::Dir::from_fd(dup) else {
        return Vec::new();
    };
    d.into_iter()
        .flatten()
        .map(|e| OsString::from_vec(e.file_name().to_bytes().to_vec()))
        .filter(|n| n != "." && n != "..")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Jail {
        _t: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    /// A root and a victim directory beside it, outside the root.
    fn jail() -> Jail {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("victim"), "secret\n").unwrap();
        Jail {
            _t: t,
            root,
            outside,
        }
    }

    #[test]
    fn absolute_links_resolve_inside_the_root() {
        let j = jail();
        symlink(&j.outside, j.root.join("etc/docker")).unwrap();
        let r = Root::open(&j.root).unwrap();
        // The link points at the outside dir's absolute path: inside the
        // root that path does not exist.
        assert!(r.read("/etc/docker/victim", 100).unwrap().is_none());
        std::fs::create_dir_all(j.root.join("srv")).unwrap();
        std::fs::write(j.root.join("srv/x"), "inside").unwrap();
        std::fs::remove_file(j.root.join("etc/docker")).unwrap();
        symlink("/srv", j.root.join("etc/docker")).unwrap();
        assert_eq!(r.read("/etc/docker/x", 100).unwrap().unwrap(), b"inside");
    }

    #[test]
    fn dotdot_stays_inside_the_root() {
        let j = jail();
        symlink("../../../../outside", j.root.join("etc/up")).unwrap();
        let r = Root::open(&j.root).unwrap();
        assert!(r.read("/etc/up/victim", 100).unwrap().is_none());
        assert!(r.read("/../outside/victim", 100).unwrap().is_none());
        assert!(r.read("/../../../outside/victim", 100).unwrap().is_none());
    }

    #[test]
    fn a_fifo_is_refused_not_waited_on() {
        let j = jail();
        nix::unistd::mkfifo(&j.root.join("etc/fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let r = Root::open(&j.root).unwrap();
        let e = r.read("/etc/fifo", 100).unwrap_err();
        assert!(format!("{e:#}").contains("FIFO"), "{e:#}");
        let e = r.read("/etc", 100).unwrap_err();
        assert!(format!("{e:#}").contains("directory"), "{e:#}");
    }

    #[test]
    fn reads_are_bounded() {
        let j = jail();
        std::fs::write(j.root.join("etc/big"), vec![b'x'; 2048]).unwrap();
        let r = Root::open(&j.root).unwrap();
        assert!(r.read("/etc/big", 1024).is_err());
        assert_eq!(r.read("/etc/big", 4096).unwrap().unwrap().len(), 2048);
    }

    #[test]
    fn mkdir_through_a_dangling_link_stays_inside() {
        let j = jail();
        let r = Root::open(&j.root).unwrap();
        symlink(j.outside.join("new"), j.root.join("etc/docker")).unwrap();
        r.create_dir_all("/etc/docker/sub").unwrap();
        assert!(!j.outside.join("new").exists());
        let inside = j
            .root
            .join(j.outside.strip_prefix("/").unwrap())
            .join("new/sub");
        assert!(inside.is_dir(), "{}", inside.display());
    }

    #[test]
    fn target_follows_a_final_link_inside() {
        let j = jail();
        let r = Root::open(&j.root).unwrap();
        symlink("/../../outside/victim", j.root.join("etc/conf")).unwrap();
        let t = r.target("/etc/conf", true).unwrap();
        assert_eq!(t.host_path, "/../../outside/victim");
        // The directory it lands in is the root's /outside (created), not ours.
        assert!(j.root.join("outside").is_dir());
        assert_eq!(
            std::fs::read(j.outside.join("victim")).unwrap(),
            b"secret\n"
        );
    }
}
