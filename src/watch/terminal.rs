//! The terminal in watch mode: raw mode on while watching, restored on quit, on error and on
//! a panic, and a screen that is redrawn whole.

use std::io::{Write, stdout};

use anyhow::Result;
use crossterm::{cursor, execute, terminal};

/// Raw mode for as long as it lives: keys arrive one at a time and unechoed.
pub struct RawMode;

impl RawMode {
    pub fn enable() -> Result<Self> {
        terminal::enable_raw_mode()?;
        // A panic must not leave the learner's shell in raw mode: restore first, then let the
        // default hook print the message on a sane terminal.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Hands the terminal to another program (a terminal editor) for as long as it lives: raw mode
/// off, the cursor shown, the screen cleared; on drop, raw mode on again (the caller redraws).
pub struct Lent;

impl Lent {
    pub fn lend() -> Result<Self> {
        restore();
        execute!(stdout(), terminal::Clear(terminal::ClearType::All), cursor::MoveTo(0, 0))?;
        Ok(Lent)
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let _ = terminal::enable_raw_mode();
    }
}

/// How many rows the terminal has (24 when it cannot tell, or says 0 as some pseudo-terminals
/// do).
pub fn rows() -> usize {
    match terminal::size() {
        Ok((_, rows)) if rows > 0 => rows as usize,
        _ => 24,
    }
}

fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(stdout(), cursor::Show);
}

/// Clears the screen and writes `text`. Raw mode does not turn `\n` into a carriage return
/// plus a line feed, so that is done here.
pub fn draw(text: &str) -> Result<()> {
    let mut out = stdout().lock();
    execute!(
        out,
        terminal::Clear(terminal::ClearType::All),
        terminal::Clear(terminal::ClearType::Purge),
        cursor::MoveTo(0, 0)
    )?;
    out.write_all(text.replace('\n', "\r\n").as_bytes())?;
    out.flush()?;
    Ok(())
}
