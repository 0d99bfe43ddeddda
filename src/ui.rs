//! The terminal, for every command: output that never panics, messages on
//! stderr, and line-based prompts (rustup-init's way: numbered choices,
//! typed answers, Ctrl-C cancels and leaves the terminal as it was).
//!
//! Human output goes to stdout; with `--format json` stdout carries only
//! the JSON and everything else goes to stderr. Prompts are on stderr.

use crate::exit::Exit;
use console::style;
use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::progress::Progress;

/// A line on stderr; a write error (a closed pipe, a full disk) is ignored,
/// never a panic: stderr is only ever for people.
pub fn eline(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{msg}");
}

pub fn error(msg: &str) {
    eline(&format!("{} {msg}", style("error:").red().bold()));
}

pub fn warn(msg: &str) {
    eline(&format!("{} {msg}", style("warning:").yellow().bold()));
}

pub fn info(msg: &str) {
    eline(msg);
}

/// Set when stdout could not be written (a closed pipe, a full disk).
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// A line on stdout. A write error is remembered (see [`stdout_error`]),
/// never a panic: `dockpoint doctor --format json | head -c0` or a full disk
/// end with the documented exit code and an error on stderr.
pub fn println(msg: &str) {
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = std::io::stdout().lock();
    if writeln!(o, "{msg}").and_then(|_| o.flush()).is_err() {
        STDOUT_FAILED.store(true, Ordering::Relaxed);
    }
}

/// Whether stdout failed; each command's `run` turns this into its exit code.
pub fn stdout_error() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// The exit after printing: a report that could not be written to stdout
/// is a failure, said on stderr.
pub fn finish(exit: Exit) -> Exit {
    if !stdout_error() {
        return exit;
    }
    error("the report could not be written to stdout (a closed pipe or a full disk)");
    if exit == Exit::Usage {
        Exit::Usage
    } else {
        Exit::Failed
    }
}

/// A line of human output: stdout, or stderr when stdout carries JSON.
pub fn out(json: bool, msg: &str) {
    if json {
        eline(msg);
    } else {
        println(msg);
    }
}

/// Escape terminal control characters in text that came from outside
/// (file contents, command output), so it cannot move the cursor or
/// rewrite the screen.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    out
}

fn theme() -> Box<dyn Theme> {
    if console::colors_enabled_stderr() {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
    }
}

/// True while a prompt waits: Ctrl-C then cancels at once.
static AT_PROMPT: AtomicBool = AtomicBool::new(false);
/// Set by Ctrl-C outside a prompt: the run stops after the current step.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: nix::libc::c_int) {
    if AT_PROMPT.load(Ordering::SeqCst) {
        // Async-signal-safe: write(2) and _exit(2) only. Show the cursor,
        // end the line, say it, exit as a cancel.
        let msg = b"\x1b[?25h\nCancelled: nothing was changed.\n";
        // SAFETY: write(2) on fd 2 with a static buffer; _exit(2).
        unsafe {
            nix::libc::write(2, msg.as_ptr().cast(), msg.len());
            nix::libc::_exit(Exit::Failed.code());
        }
    }
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Install the Ctrl-C handler (interactive runs).
pub fn handle_ctrl_c() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let act = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only touches atomics and async-signal-safe calls.
    let _ = unsafe { sigaction(Signal::SIGINT, &act) };
}

/// Whether Ctrl-C was pressed outside a prompt.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

struct PromptGuard;

impl PromptGuard {
    fn new() -> Self {
        AT_PROMPT.store(true, Ordering::SeqCst);
        PromptGuard
    }
}

impl Drop for PromptGuard {
    fn drop(&mut self) {
        AT_PROMPT.store(false, Ordering::SeqCst);
    }
}

/// Read one answer line. None when the terminal is gone (EOF) or the read
/// was interrupted: callers treat that as a cancel.
fn read_answer(prompt: &str, default: &str) -> Option<String> {
    let _g = PromptGuard::new();
    dialoguer::Input::<String>::with_theme(&*theme())
        .with_prompt(prompt)
        .default(default.to_string())
        .show_default(!default.is_empty())
        .allow_empty(true)
        .interact_on(&console::Term::stderr())
        .ok()
        .map(|s| s.trim().to_string())
}

/// A yes/no question, answered with y/yes/n/no (Enter takes the default).
/// A closed terminal counts as no.
pub fn ask_yes_no(prompt: &str, default: bool) -> bool {
    let hint = if default { "Y/n" } else { "y/N" };
    loop {
        let Some(a) = read_answer(&format!("{prompt} [{hint}]"), "") else {
            return false;
        };
        match a.to_ascii_lowercase().as_str() {
            "" => return default,
            "y" | "yes" => return true,
            "n" | "no" => return false,
            _ => eline("answer y or n"),
        }
    }
}

/// A numbered menu: the operator types a number (or the start of an
/// option's name); Enter takes the default. None: the terminal is gone.
pub fn menu(prompt: &str, items: &[&str], default: usize) -> Option<usize> {
    eline(prompt);
    for (i, it) in items.iter().enumerate() {
        let mark = if i == default { " (default)" } else { "" };
        eline(&format!("  {}) {it}{mark}", i + 1));
    }
    loop {
        let a = read_answer(">", "")?;
        if a.is_empty() {
            return Some(default);
        }
        if let Ok(n) = a.parse::<usize>()
            && (1..=items.len()).contains(&n)
        {
            return Some(n - 1);
        }
        let lower = a.to_ascii_lowercase();
        if let Some(i) = items
            .iter()
            .position(|it| it.to_ascii_lowercase().starts_with(&lower))
        {
            return Some(i);
        }
        eline(&format!("type a number from 1 to {}", items.len()));
    }
}

/// Pick any of `items` by number (`1 2`, `1,2`), Enter for none.
pub fn pick_many(prompt: &str, items: &[&str]) -> Option<Vec<usize>> {
    eline(prompt);
    for (i, it) in items.iter().enumerate() {
        eline(&format!("  {}) {it}", i + 1));
    }
    loop {
        let a = read_answer("numbers, or Enter for none", "")?;
        let picked: Option<Vec<usize>> = a
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(|w| {
                w.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=items.len()).contains(n))
                    .map(|n| n - 1)
            })
            .collect();
        match picked {
            Some(mut v) => {
                v.sort_unstable();
                v.dedup();
                return Some(v);
            }
            None => eline(&format!("type numbers from 1 to {}", items.len())),
        }
    }
}

/// One JSON report on stdout (an error on stderr if it cannot be made).
pub fn print_json<T: serde::Serialize>(report: &T) {
    match serde_json::to_string_pretty(report) {
        Ok(s) => println(&s),
        Err(e) => error(&format!("cannot serialise the report: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_controls("x\ry"), "x\\u{d}y");
        assert_eq!(escape_controls("x\u{2028}y"), "x\\u{2028}y");
        assert_eq!(escape_controls("plain\ttext\n"), "plain\ttext\n");
    }
}
