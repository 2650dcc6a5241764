//! What watch mode reacts to: saves of exercise files (notify) and keys (crossterm), merged
//! into one channel.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

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
    /// A letter, digit or sign, lowercased.
    Char(char),
    /// Ctrl-C, which raw mode delivers as a key instead of a signal.
    Interrupt,
    Esc,
    Enter,
    Backspace,
    Tab,
    BackTab,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
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

/// Reads keys on a thread of its own, so that the main loop waits on one channel. The reader
/// can be paused, so that a terminal editor started from watch mode gets every key.
pub fn read_keys(sender: Sender<Event>) -> KeyReader {
    let reader = KeyReader { shared: Arc::new((Mutex::new(Reading::On), Condvar::new())) };
    let shared = reader.clone();
    thread::spawn(move || {
        loop {
            shared.park_if_asked();
            // A short poll rather than a blocking read: a pause is noticed within 50 ms.
            let event = match event::poll(Duration::from_millis(50)) {
                Ok(false) => continue,
                Ok(true) => match event::read() {
                    Ok(event::Event::Key(key)) if key.kind != KeyEventKind::Release => {
                        Event::Key(to_key(key))
                    }
                    Ok(_) => continue,
                    Err(e) => Event::Error(format!("cannot read the keyboard: {e}")),
                },
                Err(e) => Event::Error(format!("cannot read the keyboard: {e}")),
            };
            let stop = matches!(event, Event::Error(_));
            if sender.send(event).is_err() || stop {
                return;
            }
        }
    });
    reader
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    On,
    PauseAsked,
    Paused,
}

/// The handle of the key reader thread.
#[derive(Clone)]
pub struct KeyReader {
    shared: Arc<(Mutex<Reading>, Condvar)>,
}

impl KeyReader {
    /// Stops reading keys, and returns once the reader has stopped.
    pub fn pause(&self) {
        let (reading, changed) = &*self.shared;
        let mut reading = reading.lock().unwrap();
        *reading = Reading::PauseAsked;
        changed.notify_all();
        while *reading == Reading::PauseAsked {
            reading = changed.wait(reading).unwrap();
        }
    }

    pub fn resume(&self) {
        let (reading, changed) = &*self.shared;
        *reading.lock().unwrap() = Reading::On;
        changed.notify_all();
    }

    /// On the reader thread: when a pause is asked for, say so and wait for the resume.
    /// Whether it paused.
    fn park_if_asked(&self) -> bool {
        let (reading, changed) = &*self.shared;
        let mut reading = reading.lock().unwrap();
        if *reading != Reading::PauseAsked {
            return false;
        }
        *reading = Reading::Paused;
        changed.notify_all();
        while *reading == Reading::Paused {
            reading = changed.wait(reading).unwrap();
        }
        true
    }
}

fn to_key(key: KeyEvent) -> Key {
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Key::Interrupt,
        KeyCode::Char(c) => Key::Char(c.to_ascii_lowercase()),
        KeyCode::Esc => Key::Esc,
        KeyCode::Enter => Key::Enter,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
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
    fn a_pause_waits_for_the_reader_and_a_resume_lets_it_go_on() {
        let reader = KeyReader { shared: Arc::new((Mutex::new(Reading::On), Condvar::new())) };
        let thread_side = reader.clone();
        let parked = thread::spawn(move || {
            // The reader's loop, without a keyboard: check for a pause until one comes.
            while !thread_side.park_if_asked() {
                thread::sleep(Duration::from_millis(5));
            }
        });
        reader.pause();
        assert_eq!(*reader.shared.0.lock().unwrap(), Reading::Paused);
        reader.resume();
        parked.join().unwrap();
        assert_eq!(*reader.shared.0.lock().unwrap(), Reading::On);
    }

    #[test]
    fn ctrl_c_is_an_interrupt_and_letters_fold_case() {
        assert_eq!(to_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Key::Interrupt);
        assert_eq!(to_key(KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT)), Key::Char('n'));
        assert_eq!(to_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)), Key::Esc);
        assert_eq!(to_key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE)), Key::PageDown);
    }
}
