//! containerd's garbage-collection race (moby#42900, still live): a
//! checkpoint or a restore right after another one finds its blob "already
//! exists" in containerd's content store, because the earlier one's lease is
//! gone but the GC has not run yet. Wait it out with backoff (CRIU's own CI
//! retries three times), then remove the blob (`ctr content rm`) and try
//! once more. The path taken is reported: `none`, `retried` or `purged`.

use crate::docker::api::ApiError;
use crate::host::{Cmd, Host};
use crate::progress::Progress;
use std::time::Duration;

/// How long to wait before each retry.
pub const RETRY: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// containerd's sockets, in the order dockpoint asks (a system containerd,
/// then the one dockerd starts itself).
pub const CONTAINERD_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/run/docker/containerd/containerd.sock",
];

/// The same bytes are already in the content store.
pub fn is_race(message: &str) -> bool {
    message.contains("already exists") && message.contains("content sha256:")
}

/// The content digest docker's message names.
pub fn digest(message: &str) -> Option<String> {
    let at = message.find("content sha256:")?;
    let hex: String = message[at + 15..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() >= 32).then(|| format!("sha256:{hex}"))
}

/// What happened on the way through.
pub struct Passage<T, X> {
    pub result: Result<T, ApiError>,
    /// What the call gave besides its result (the last attempt's).
    pub extra: X,
    /// `none`, `retried` or `purged`.
    pub path: &'static str,
    pub warnings: Vec<String>,
}

/// Make `call` until it does not hit the race: first after each wait of
/// `retry`, then once more after removing the blob.
pub fn through<T, X>(
    host: &Host,
    progress: &Progress,
    retry: &[Duration],
    mut call: impl FnMut() -> (Result<T, ApiError>, X),
) -> Passage<T, X> {
    let mut path = "none";
    let mut warnings = Vec::new();
    let mut waits = retry.iter();
    loop {
        let (result, extra) = call();
        let message = match &result {
            Err(e) if is_race(e.message().unwrap_or_default()) => {
                e.message().unwrap_or_default().to_string()
            }
            _ => {
                return Passage {
                    result,
                    extra,
                    path,
                    warnings,
                };
            }
        };
        // Ctrl-C: no more attempts (the container is left as the caller
        // leaves it on a failure).
        if crate::ui::interrupted() {
            warnings.push("interrupted: containerd's GC race was not waited out".into());
            return Passage {
                result,
                extra,
                path,
                warnings,
            };
        }
        if let Some(w) = waits.next() {
            progress.phase(&format!(
                "containerd's GC race (content already exists): retrying in {}s",
                w.as_secs()
            ));
            path = "retried";
            std::thread::sleep(*w);
            continue;
        }
        if path != "purged"
            && let Some(d) = digest(&message)
        {
            progress.phase(&format!(
                "containerd's GC race persists: removing {d} from its content store"
            ));
            match purge(host, &d) {
                Ok(()) => {
                    path = "purged";
                    continue;
                }
                Err(why) => warnings.push(why),
            }
        }
        return Passage {
            result,
            extra,
            path,
            warnings,
        };
    }
}

/// Remove a blob the race left (`ctr -n moby content rm`).
pub fn purge(host: &Host, digest: &str) -> Result<(), String> {
    let Some(sock) = CONTAINERD_SOCKETS.iter().find(|s| host.fs.exists(s)) else {
        return Err("containerd's socket was not found: the blob could not be removed".into());
    };
    let cmd = Cmd::new(
        "ctr",
        &[
            "--address",
            sock,
            "--namespace",
            "moby",
            "content",
            "rm",
            digest,
        ],
    );
    match host.run(&cmd) {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(format!(
            "ctr content rm {digest} failed: {}",
            o.stderr.trim()
        )),
        Err(e) => Err(format!("ctr content rm {digest}: {e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_race_and_its_digest_are_read_from_dockers_messages() {
        let race = "failed to upload checkpoint to containerd: commit failed: content sha256:5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592: already exists";
        assert!(is_race(race));
        assert!(is_race(
            "Cannot checkpoint container app1: content sha256:54aefe96: already exists"
        ));
        assert!(!is_race("checkpoint cp1 already exists for container bela"));
        assert_eq!(
            digest(race).as_deref(),
            Some("sha256:5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592")
        );
        assert_eq!(digest("content sha256:zz: already exists"), None);
    }
}
