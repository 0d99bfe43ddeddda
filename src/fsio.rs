//! The thin shell around the pure editors: read, write through a temp file
//! in the same directory, validate, back up, rename; and the setup lock.

use anyhow::{Context, Result, bail};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Follow symlinks at `path` the way the host would, but inside `root`:
/// an absolute link target is taken relative to `root`, not to our `/`.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    fs::read_link(&p).with_context(|| format!("reading link {}", p.display()))?;
                p = if target.is_absolute() {
                    root.join(target.strip_prefix("/").unwrap_or(&target))
                } else {
                    p.parent().unwrap_or(root).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

/// The file's bytes, or None when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A path next to `path` for its backup: `<file>.dockpoint-<UTC time>.bak`.
fn backup_path(path: &Path) -> PathBuf {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let base = format!("{}.dockpoint-{stamp}", path.display());
    let mut candidate = PathBuf::from(format!("{base}.bak"));
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}-{n}.bak"));
        n += 1;
    }
    candidate
}

fn fsync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync {}", dir.display()))
}

/// Write `new` to `path` atomically. The temp file lives in the same
/// directory, gets the old file's owner and mode (0644 for a new file), is
/// fsynced and re-read through `validate` (given the temp path and the bytes)
/// before it replaces the old file.
/// The old version, if any, is kept as a backup whose path is returned.
/// On any error the original file is untouched and the temp file removed.
pub fn write_atomic(
    path: &Path,
    new: &[u8],
    validate: &dyn Fn(&Path, &[u8]) -> Result<()>,
) -> Result<Option<PathBuf>> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let old_meta = fs::metadata(path).ok();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.dockpoint-tmp-{}", std::process::id()));
    let result = (|| -> Result<Option<PathBuf>> {
        let mode = old_meta.as_ref().map_or(0o644, |m| m.mode() & 0o7777);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create temp file {}", tmp.display()))?;
        f.write_all(new)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        if let Some(m) = &old_meta {
            std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))
                .with_context(|| format!("cannot set owner of {}", tmp.display()))?;
        }
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()
            .with_context(|| format!("fsync {}", tmp.display()))?;
        drop(f);
        let written = fs::read(&tmp)?;
        if written != new {
            bail!("{} does not read back as written", tmp.display());
        }
        validate(&tmp, &written)
            .context("the new content failed validation; nothing was changed")?;
        let backup = match &old_meta {
            Some(_) => {
                let b = backup_path(path);
                fs::copy(path, &b).with_context(|| {
                    format!("cannot back up {} to {}", path.display(), b.display())
                })?;
                fs::File::open(&b)?.sync_all()?;
                Some(b)
            }
            None => None,
        };
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        fsync_dir(dir)?;
        Ok(backup)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// An exclusive lock so two setups on the same root never interleave. It is
/// an flock on the root's `/etc` directory, so no lock file is left behind
/// in an image; it is released when the process exits, however it exits.
pub struct SetupLock {
    _fd: nix::fcntl::Flock<fs::File>,
}

impl SetupLock {
    /// Take the lock, waiting up to `wait` (with `on_wait` told once).
    pub fn acquire(root: &Path, wait: std::time::Duration, on_wait: &dyn Fn()) -> Result<Self> {
        use nix::fcntl::{Flock, FlockArg};
        let etc = root.join("etc");
        fs::create_dir_all(&etc).with_context(|| format!("cannot create {}", etc.display()))?;
        let deadline = std::time::Instant::now() + wait;
        let mut told = false;
        let mut file =
            fs::File::open(&etc).with_context(|| format!("cannot open {}", etc.display()))?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(fd) => return Ok(SetupLock { _fd: fd }),
                Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
                    if !told {
                        on_wait();
                        told = true;
                    }
                    if std::time::Instant::now() >= deadline {
                        bail!(
                            "another dockpoint setup holds the lock on {} for more than {}s; wait for it to finish, then re-run",
                            etc.display(),
                            wait.as_secs()
                        );
                    }
                    file = f;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err((_, e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", etc.display()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_backs_up_and_keeps_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etc/x.conf");
        assert_eq!(write_atomic(&p, b"one\n", &|_, _| Ok(())).unwrap(), None);
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let b = write_atomic(&p, b"two\n", &|_, _| Ok(())).unwrap().unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"one\n");
        assert_eq!(fs::read(&p).unwrap(), b"two\n");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o640);
        assert_eq!(fs::read_dir(d.path().join("etc")).unwrap().count(), 2);
    }

    #[test]
    fn failed_validation_leaves_file_untouched() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, "old").unwrap();
        let err = write_atomic(&p, b"new", &|_, _| bail!("nope")).unwrap_err();
        assert!(format!("{err:#}").contains("nope"));
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlinks_resolve_inside_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("etc/docker")).unwrap();
        fs::create_dir_all(root.join("srv")).unwrap();
        std::os::unix::fs::symlink("/srv/daemon.json", root.join("etc/docker/daemon.json"))
            .unwrap();
        let r = resolve_in_root(root, &root.join("etc/docker/daemon.json")).unwrap();
        assert_eq!(r, root.join("srv/daemon.json"));
    }
}
