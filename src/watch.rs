//! Hold files open from the moment they appear, while a call runs, so that
//! what CRIU writes survives containerd removing it (a failed restore's
//! log, a dump's statistics in a work directory deleted right after).

use crate::host::Host;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Run `call` while watching `paths`: each file that appears (or is
/// replaced) during the call is opened and read once the call returns,
/// even if it was removed meanwhile. The texts, in the order of `paths`.
pub fn during<T>(
    host: &Host,
    paths: &[String],
    call: impl FnOnce() -> T,
) -> (T, Vec<Option<Vec<u8>>>) {
    // A file from before the call is not this call's.
    let before: Vec<_> = paths
        .iter()
        .map(|p| {
            host.fs
                .stat(p)
                .map(|st| (st.st_ino, st.st_mtime, st.st_mtime_nsec))
        })
        .collect();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut files: Vec<Option<std::fs::File>> = paths.iter().map(|_| None).collect();
            loop {
                let done = stop.load(Ordering::Acquire);
                for (i, p) in paths.iter().enumerate() {
                    if files[i].is_none()
                        && let Some(st) = host.fs.stat(p)
                        && Some((st.st_ino, st.st_mtime, st.st_mtime_nsec)) != before[i]
                    {
                        files[i] = host.fs.open_file(p).ok().flatten();
                    }
                }
                if done || files.iter().all(Option::is_some) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // Read once the call is over: the writer has finished.
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
            files
                .into_iter()
                .map(|f| {
                    let mut f = f?;
                    let mut bytes = Vec::new();
                    (&mut f).take(64 << 20).read_to_end(&mut bytes).ok()?;
                    Some(bytes)
                })
                .collect::<Vec<_>>()
        });
        let r = call();
        stop.store(true, Ordering::Release);
        let texts = watcher
            .join()
            .unwrap_or_else(|_| paths.iter().map(|_| None).collect());
        (r, texts)
    })
}
