//! What watch mode reacts to: saves of exercise files (notify) and keys (crossterm), merged
//! into one channel.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;

use anyhow::{Context, Result};
use crossterm::event::{self, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

pub enum Event {
    /// A file under exercises/ was written, created, renamed or removed.
    FileChanged(PathBuf),
    Key(Key),
    /// A worker finished a check.
    Finished(super::Finished),
    /// The watcher or the terminal failed; watch mode reports it and quits.
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    /// Ctrl-C, which raw mode delivers as a key instead of a signal.
    Interrupt,
    Other,
}

/// Watches `dir` recursively. The folder is watched rather than each file, because editors
/// that save by writing a temporary file and renaming it over the exercise (vim, JetBrains,
/// VS Code) replace the file that a per-file watch would follow.
pub fn watch_files(dir: &Path, sender: Sender<Event>) -> Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let event = match result {
            Ok(event) if is_write(&event.kind) => event,
            Ok(_) => return,
            Err(e) => {
                let _ = sender.send(Event::Error(format!("the file watcher failed: {e}")));
                return;
            }
        };
        for path in event.paths {
            let _ = sender.send(Event::FileChanged(path));
        }
    })
    .context("cannot start the file watcher")?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(watcher)
}

/// Reads and opens are not changes: cargo reading the exercise while it builds would otherwise
/// trigger a new check, forever.
fn is_write(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// Reads keys on a thread of its own, so that the main loop waits on one channel.
pub fn read_keys(sender: Sender<Event>) {
    thread::spawn(move || {
        loop {
            let event = match event::read() {
                Ok(event::Event::Key(key)) if key.kind != KeyEventKind::Release => Event::Key(to_key(key)),
                Ok(_) => continue,
                Err(e) => Event::Error(format!("cannot read the keyboard: {e}")),
            };
            let stop = matches!(event, Event::Error(_));
            if sender.send(event).is_err() || stop {
                return;
            }
        }
    });
}

fn to_key(key: KeyEvent) -> Key {
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Key::Interrupt,
        KeyCode::Char(c) => Key::Char(c.to_ascii_lowercase()),
        KeyCode::Esc => Key::Char('q'),
        _ => Key::Other,
    }
}

pub fn channel_pair() -> (Sender<Event>, Receiver<Event>) {
    channel()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RenameMode};

    #[test]
    fn writes_count_and_reads_do_not() {
        assert!(is_write(&EventKind::Modify(ModifyKind::Name(RenameMode::To))));
        assert!(is_write(&EventKind::Create(CreateKind::File)));
        assert!(is_write(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(!is_write(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_write(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
    }

    #[test]
    fn ctrl_c_is_an_interrupt_and_letters_fold_case() {
        assert_eq!(to_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Key::Interrupt);
        assert_eq!(to_key(KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT)), Key::Char('n'));
        assert_eq!(to_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)), Key::Char('q'));
    }
}
