//! dockpoint: make a Linux host ready for Docker checkpoint/restore (CRIU),
//! and say exactly what is wrong when it is not.

pub mod apt;
pub mod checkpoint;
pub mod checkpoints;
pub mod cli;
pub mod completions;
pub mod container;
pub mod criu;
pub mod criu_image;
pub mod criu_sources;
pub mod daemon_json;
pub mod distro;
pub mod docker;
pub mod doctor;
pub mod edit;
pub mod enable;
pub mod exit;
pub mod explain;
pub mod fake_engine;
pub mod fsio;
pub mod gc_race;
pub mod host;
pub mod observe;
pub mod openpgp;
pub mod package_files;
pub mod progress;
pub mod restore;
pub mod rootfs;
pub mod runc_conf;
pub mod runner;
pub mod setup;
pub mod status;
pub mod ui;
pub mod units;
pub mod watch;
pub mod workflow;
