//! Progress of something slow: a spinner with the current phase on a
//! terminal, plain lines (each new phase once) otherwise.

/// Progress of something slow: a spinner with the current phase on a
/// terminal, plain lines (each new phase once) otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    last: std::sync::Mutex<(String, Option<std::time::Instant>)>,
}

impl Progress {
    pub fn start(term: &crate::host::Term, label: &str) -> Self {
        let bar = term.progress_tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix}: {wide_msg} [{elapsed}]",
                )
                .expect("valid template"),
            );
            b.set_prefix(label.to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        if bar.is_none() {
            crate::ui::eline(&format!("{label}: started"));
        }
        Progress {
            bar,
            label: label.to_string(),
            last: std::sync::Mutex::new((String::new(), None)),
        }
    }

    pub fn phase(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => {
                // Without a terminal: the first phase, then a line every 3s at most.
                let mut last = self.last.lock().expect("lock");
                let (text, at) = &mut *last;
                if at.is_none_or(|t| t.elapsed().as_secs() >= 3) && *text != msg {
                    crate::ui::eline(&format!("{}: {msg}", self.label));
                    *text = msg.to_string();
                    *at = Some(std::time::Instant::now());
                }
            }
        }
    }

    pub fn finish(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.finish_with_message(msg.to_string()),
            None => crate::ui::eline(&format!("{}: {msg}", self.label)),
        }
    }
}
