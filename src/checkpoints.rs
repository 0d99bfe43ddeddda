//! `dockpoint checkpoints CONTAINER [--prune KEEP]`: a container's
//! checkpoints with their time and size on disk, newest first; `--prune`
//! removes all but the newest KEEP (through the Engine API, and dockpoint's
//! record of each).

use crate::cli::{CheckpointsArgs, Format};
use crate::exit::Exit;
use crate::host::Term;
use crate::observe::Observer;
use crate::ui;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// When it was written (its directory's mtime), RFC 3339.
    pub created: Option<String>,
    #[serde(skip)]
    /// The same in nanoseconds: two checkpoints within a second still sort.
    pub mtime: i64,
    pub size_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Report {
    format_version: u32,
    container: String,
    checkpoints: Vec<Entry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pruned: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

/// Which to remove to keep the newest `keep`: pure.
pub fn to_prune(entries: &[Entry], keep: usize) -> Vec<String> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    // Newest first; equal times by name (the default names sort by time).
    sorted.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| b.name.cmp(&a.name)));
    sorted
        .into_iter()
        .skip(keep)
        .map(|e| e.name.clone())
        .collect()
}

/// The checkpoints docker lists, with time and size from its data root.
pub fn list(obs: &Observer, container: &str) -> Result<(String, Vec<Entry>), String> {
    let api = obs.api()?;
    let inspect = api
        .inspect(container)
        .map_err(|e| format!("cannot inspect container {container}: {e}"))?;
    let names = api
        .checkpoints(container)
        .map_err(|e| format!("cannot list the checkpoints of {container}: {e}"))?;
    let root = obs.docker_root();
    let mut out: Vec<Entry> = names
        .into_iter()
        .map(|name| {
            let dir = format!(
                "{}/containers/{}/checkpoints/{name}",
                root.trim_end_matches('/'),
                inspect.id
            );
            let mtime = obs
                .host
                .fs
                .stat(&dir)
                .map(|st| st.st_mtime * 1_000_000_000 + st.st_mtime_nsec);
            Entry {
                created: mtime.and_then(|t| {
                    jiff::Timestamp::from_second(t.div_euclid(1_000_000_000))
                        .ok()
                        .map(|t| t.to_string())
                }),
                mtime: mtime.unwrap_or(0),
                size_bytes: crate::container::dir_bytes(&obs.host, &dir),
                name,
            }
        })
        .collect();
    out.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| b.name.cmp(&a.name)));
    Ok((inspect.id, out))
}

/// Remove all but the newest `keep` of `entries` (through the API), with
/// dockpoint's record and CPU description of each. What was removed, and
/// what could not be.
pub fn prune(
    obs: &Observer,
    container: &str,
    id: &str,
    entries: &[Entry],
    keep: usize,
) -> (Vec<String>, Vec<String>) {
    let (mut pruned, mut errors) = (Vec::new(), Vec::new());
    let api = match obs.api() {
        Ok(a) => a,
        Err(e) => return (pruned, vec![e.clone()]),
    };
    for name in to_prune(entries, keep) {
        match api.delete_checkpoint(container, &name) {
            Ok(()) => {
                let record = format!("{}/{id}/{name}.json", crate::workflow::RECORDS);
                if let Ok(Some(b)) = obs.host.fs.read(&record, 1 << 20) {
                    let _ = crate::fsio::restore(&obs.host, &record, &b, None);
                }
                let cpu = crate::workflow::cpuinfo_dir(id, &name);
                if obs.host.fs.is_dir(&cpu) {
                    let _ = crate::fsio::remove_tree(&obs.host, &cpu);
                }
                pruned.push(name);
            }
            Err(e) => errors.push(format!("cannot remove checkpoint {name}: {e}")),
        }
    }
    (pruned, errors)
}

/// `dockpoint checkpoints`.
pub fn run(args: &CheckpointsArgs) -> Exit {
    let json = args.format == Format::Json;
    let obs = match Observer::live(Term::detect()) {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let (id, mut entries) = match list(&obs, &args.container) {
        Ok(x) => x,
        Err(e) => {
            ui::error(&e);
            return ui::finish(Exit::Failed);
        }
    };
    let (mut pruned, mut errors) = (Vec::new(), Vec::new());
    if let Some(keep) = args.prune {
        (pruned, errors) = prune(&obs, &args.container, &id, &entries, keep);
        entries.retain(|e| !pruned.contains(&e.name));
    }
    let exit = if errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    };
    let report = Report {
        format_version: 1,
        container: args.container.clone(),
        checkpoints: entries,
        pruned,
        errors,
    };
    if json {
        ui::print_json(&report)
    } else {
        if report.checkpoints.is_empty() {
            ui::println(&format!("{}: no checkpoints", report.container));
        }
        for e in &report.checkpoints {
            ui::println(&format!(
                "{:<28} {:<26} {}",
                e.name,
                e.created.as_deref().unwrap_or("?"),
                e.size_bytes
                    .map(crate::container::human_bytes)
                    .unwrap_or_else(|| "?".into())
            ));
        }
        for p in &report.pruned {
            ui::println(&format!("removed {p}"));
        }
        for e in &report.errors {
            ui::error(e);
        }
    }
    ui::finish(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, mtime: i64) -> Entry {
        Entry {
            name: name.into(),
            created: None,
            mtime,
            size_bytes: None,
        }
    }

    #[test]
    fn prune_keeps_the_newest() {
        let all = [e("cp-a", 10), e("cp-c", 30), e("cp-b", 20)];
        assert_eq!(to_prune(&all, 1), vec!["cp-b", "cp-a"]);
        assert_eq!(to_prune(&all, 2), vec!["cp-a"]);
        assert!(to_prune(&all, 3).is_empty());
        assert_eq!(to_prune(&all, 0).len(), 3);
        // The same second: the later default name is the newer one.
        let same = [e("cp-20261126T100000Z", 5), e("cp-20261126T100001Z", 5)];
        assert_eq!(to_prune(&same, 1), vec!["cp-20261126T100000Z"]);
    }
}
