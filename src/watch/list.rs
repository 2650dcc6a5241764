//! The list of exercises that `l` opens in watch mode, as a view you act on: move through it,
//! filter it, search it by name, make an exercise current, reset one.
//!
//! A pure state type: [`ListView::update`] takes a key and says what watch mode is to do
//! ([`Effect`]); the unit tests below drive it. `render::list_view` draws it.

use super::events::Key;

/// Which exercises the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Done,
    Pending,
}

impl Filter {
    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Done => "done",
            Filter::Pending => "pending",
        }
    }

    fn next(self) -> Self {
        match self {
            Filter::All => Filter::Done,
            Filter::Done => Filter::Pending,
            Filter::Pending => Filter::All,
        }
    }

    fn previous(self) -> Self {
        match self {
            Filter::All => Filter::Pending,
            Filter::Done => Filter::All,
            Filter::Pending => Filter::Done,
        }
    }

    fn admits(self, done: bool) -> bool {
        match self {
            Filter::All => true,
            Filter::Done => done,
            Filter::Pending => !done,
        }
    }
}

/// What watch mode does after a key in the list.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Draw the list again (or nothing changed).
    Redraw,
    /// Close the list and show the verdict again.
    Close,
    /// Make this exercise current, close the list and check it.
    Select(usize),
    /// The learner confirmed: reset this exercise to as shipped.
    Reset(usize),
    /// Quit watch mode (Ctrl-C).
    Quit,
}

pub struct ListView {
    /// Every exercise's name, in course order.
    names: Vec<String>,
    filter: Filter,
    /// Shows only the exercises whose name contains this (case-insensitive).
    query: String,
    /// Keys are being typed into the search.
    searching: bool,
    /// The selected exercise (its index in the course), if any is shown.
    selected: Option<usize>,
    /// The first row shown.
    scroll: usize,
    /// How many rows fit on the screen.
    height: usize,
    /// `x` was pressed on this exercise: the next key says whether to reset it.
    confirming_reset: Option<usize>,
}

impl ListView {
    /// A list of `names` (course order) with the current exercise selected.
    pub fn new(names: Vec<String>, current: usize, height: usize) -> Self {
        let selected = (current < names.len()).then_some(current);
        let mut view = ListView {
            names,
            filter: Filter::All,
            query: String::new(),
            searching: false,
            selected,
            scroll: 0,
            height: height.max(1),
            confirming_reset: None,
        };
        // Nothing is filtered out yet, so which exercises are done does not matter.
        view.scroll_to_selected(&[]);
        view
    }

    pub fn filter(&self) -> Filter {
        self.filter
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn searching(&self) -> bool {
        self.searching
    }

    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    /// The exercise that a reset is being confirmed for.
    pub fn confirming_reset(&self) -> Option<usize> {
        self.confirming_reset
    }

    /// The indices (in course order) of the exercises shown, given which are `done`.
    pub fn visible(&self, done: &[bool]) -> Vec<usize> {
        let query = self.query.to_lowercase();
        (0..self.names.len())
            .filter(|&i| self.filter.admits(done.get(i).copied().unwrap_or(false)))
            .filter(|&i| query.is_empty() || self.names[i].to_lowercase().contains(&query))
            .collect()
    }

    /// The rows on screen, as a range of indices into [`ListView::visible`] (of `shown` rows).
    pub fn window(&self, shown: usize) -> std::ops::Range<usize> {
        let first = self.scroll.min(shown);
        first..(first + self.height).min(shown)
    }

    /// The terminal was resized (or is measured at each draw): `height` rows fit.
    pub fn set_height(&mut self, height: usize, done: &[bool]) {
        self.height = height.max(1);
        self.scroll_to_selected(done);
    }

    /// Handles one key; `done` says which exercises are done, for the filter.
    pub fn update(&mut self, key: Key, done: &[bool]) -> Effect {
        if key == Key::Interrupt {
            return Effect::Quit;
        }
        if let Some(index) = self.confirming_reset.take() {
            return if key == Key::Char('y') { Effect::Reset(index) } else { Effect::Redraw };
        }
        if self.searching {
            match key {
                Key::Char(c) => self.query.push(c),
                Key::Backspace => {
                    self.query.pop();
                }
                // Enter keeps the search and goes back to moving; Esc drops it.
                Key::Enter => self.searching = false,
                Key::Esc => {
                    self.searching = false;
                    self.query.clear();
                }
                other => return self.navigate(other, done),
            }
            self.keep_selection_visible(done);
            return Effect::Redraw;
        }
        match key {
            Key::Char('q') | Key::Esc | Key::Char('l') => Effect::Close,
            Key::Char('f') | Key::Tab => {
                self.filter = self.filter.next();
                self.keep_selection_visible(done);
                Effect::Redraw
            }
            Key::BackTab => {
                self.filter = self.filter.previous();
                self.keep_selection_visible(done);
                Effect::Redraw
            }
            Key::Char('/') => {
                self.searching = true;
                Effect::Redraw
            }
            Key::Enter => match self.selected {
                Some(index) => Effect::Select(index),
                None => Effect::Redraw,
            },
            Key::Char('x') => {
                self.confirming_reset = self.selected;
                Effect::Redraw
            }
            other => self.navigate(other, done),
        }
    }

    /// Moves the selection: arrows, j/k, PageUp/PageDown, Home/End.
    fn navigate(&mut self, key: Key, done: &[bool]) -> Effect {
        let shown = self.visible(done);
        if shown.is_empty() {
            return Effect::Redraw;
        }
        let at = self.selected.and_then(|s| shown.iter().position(|&i| i == s)).unwrap_or(0);
        let last = shown.len() - 1;
        let page = self.height.saturating_sub(1).max(1);
        let to = match key {
            Key::Up | Key::Char('k') => at.saturating_sub(1),
            Key::Down | Key::Char('j') => (at + 1).min(last),
            Key::PageUp => at.saturating_sub(page),
            Key::PageDown => (at + page).min(last),
            Key::Home => 0,
            Key::End => last,
            _ => at,
        };
        self.selected = Some(shown[to]);
        self.scroll_to_selected(done);
        Effect::Redraw
    }

    /// After the filter or the search changed: the selection stays if it is still shown, else
    /// moves to the first exercise shown.
    fn keep_selection_visible(&mut self, done: &[bool]) {
        let shown = self.visible(done);
        if !self.selected.is_some_and(|s| shown.contains(&s)) {
            self.selected = shown.first().copied();
        }
        self.scroll_to_selected(done);
    }

    /// Scrolls as little as needed for the selected row to be on screen.
    fn scroll_to_selected(&mut self, done: &[bool]) {
        let shown = self.visible(done);
        let Some(row) = self.selected.and_then(|s| shown.iter().position(|&i| i == s)) else {
            self.scroll = 0;
            return;
        };
        if row < self.scroll {
            self.scroll = row;
        } else if row >= self.scroll + self.height {
            self.scroll = row + 1 - self.height;
        }
        // No empty rows at the bottom when the list could fill them.
        self.scroll = self.scroll.min(shown.len().saturating_sub(self.height));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: usize, current: usize, height: usize) -> ListView {
        ListView::new((0..n).map(|i| format!("ex{i:02}")).collect(), current, height)
    }

    fn press(view: &mut ListView, keys: &[Key], done: &[bool]) -> Vec<Effect> {
        keys.iter().map(|&key| view.update(key, done)).collect()
    }

    fn typed(text: &str) -> Vec<Key> {
        text.chars().map(Key::Char).collect()
    }

    #[test]
    fn it_opens_on_the_current_exercise_scrolled_into_view() {
        let v = view(30, 20, 10);
        assert_eq!(v.selected(), Some(20));
        assert_eq!(v.window(30), 11..21);
        let v = view(30, 0, 10);
        assert_eq!(v.window(30), 0..10);
    }

    #[test]
    fn arrows_and_vi_keys_move_and_scroll() {
        let done = vec![false; 30];
        let mut v = view(30, 0, 10);
        press(&mut v, &[Key::Down, Key::Char('j')], &done);
        assert_eq!(v.selected(), Some(2));
        press(&mut v, &[Key::Up, Key::Char('k'), Key::Up], &done);
        assert_eq!(v.selected(), Some(0), "no wrapping at the top");
        press(&mut v, &[Key::PageDown], &done);
        assert_eq!(v.selected(), Some(9));
        assert_eq!(v.window(30), 0..10);
        press(&mut v, &[Key::Down], &done);
        assert_eq!(v.window(30), 1..11, "moving below the last row scrolls by one");
        press(&mut v, &[Key::End], &done);
        assert_eq!(v.selected(), Some(29));
        assert_eq!(v.window(30), 20..30);
        press(&mut v, &[Key::Down], &done);
        assert_eq!(v.selected(), Some(29), "no wrapping at the bottom");
        press(&mut v, &[Key::PageUp], &done);
        assert_eq!(v.selected(), Some(20));
        press(&mut v, &[Key::Home], &done);
        assert_eq!((v.selected(), v.window(30)), (Some(0), 0..10));
    }

    #[test]
    fn filters_cycle_and_keep_a_shown_selection() {
        let done = [true, false, true, false];
        let mut v = view(4, 1, 10);
        assert_eq!(v.update(Key::Char('f'), &done), Effect::Redraw);
        assert_eq!(v.filter(), Filter::Done);
        assert_eq!(v.visible(&done), vec![0, 2]);
        assert_eq!(v.selected(), Some(0), "the selection moved to the first exercise shown");
        v.update(Key::Tab, &done);
        assert_eq!(v.filter(), Filter::Pending);
        assert_eq!(v.visible(&done), vec![1, 3]);
        v.update(Key::Down, &done);
        assert_eq!(v.selected(), Some(3));
        v.update(Key::Tab, &done);
        assert_eq!((v.filter(), v.selected()), (Filter::All, Some(3)), "a selection still shown stays");
        v.update(Key::BackTab, &done);
        assert_eq!(v.filter(), Filter::Pending);
    }

    #[test]
    fn search_narrows_by_name_and_types_keys_that_otherwise_act() {
        let names = ["add", "matmul", "quantize", "masked_fill"].map(String::from).to_vec();
        let done = [false; 4];
        let mut v = ListView::new(names, 0, 10);
        v.update(Key::Char('/'), &done);
        assert!(v.searching());
        // q, x, f and l are letters of the search while typing, not actions.
        let effects = press(&mut v, &typed("ma"), &done);
        assert!(effects.iter().all(|e| *e == Effect::Redraw));
        assert_eq!(v.visible(&done), vec![1, 3]);
        assert_eq!(v.selected(), Some(1));
        press(&mut v, &[Key::Backspace, Key::Backspace], &done);
        press(&mut v, &typed("qu"), &done);
        assert_eq!((v.query(), v.visible(&done)), ("qu", vec![2]));
        // Enter ends the typing and keeps the search; Enter again makes the exercise current.
        assert_eq!(v.update(Key::Enter, &done), Effect::Redraw);
        assert!(!v.searching());
        assert_eq!(v.update(Key::Enter, &done), Effect::Select(2));
        // Esc while typing drops the search.
        press(&mut v, &[Key::Char('/'), Key::Char('z'), Key::Esc], &done);
        assert_eq!((v.query(), v.visible(&done).len()), ("", 4));
    }

    #[test]
    fn nothing_shown_means_nothing_selected() {
        let done = [false, false];
        let mut v = view(2, 0, 10);
        press(&mut v, &[Key::Char('/'), Key::Char('z')], &done);
        assert_eq!(v.selected(), None);
        assert_eq!(v.update(Key::Down, &done), Effect::Redraw);
        press(&mut v, &[Key::Enter], &done);
        assert_eq!(v.update(Key::Enter, &done), Effect::Redraw, "Enter on an empty list does nothing");
        assert_eq!(v.update(Key::Char('x'), &done), Effect::Redraw);
        assert_eq!(v.confirming_reset(), None);
    }

    #[test]
    fn reset_asks_first() {
        let done = [true, true, false];
        let mut v = view(3, 0, 10);
        v.update(Key::Down, &done);
        assert_eq!(v.update(Key::Char('x'), &done), Effect::Redraw);
        assert_eq!(v.confirming_reset(), Some(1));
        assert_eq!(v.update(Key::Char('n'), &done), Effect::Redraw, "any other key cancels");
        assert_eq!(v.confirming_reset(), None);
        v.update(Key::Char('x'), &done);
        assert_eq!(v.update(Key::Char('y'), &done), Effect::Reset(1));
    }

    #[test]
    fn q_esc_and_l_close_and_ctrl_c_quits() {
        let done = [false];
        for key in [Key::Char('q'), Key::Esc, Key::Char('l')] {
            assert_eq!(view(1, 0, 5).update(key, &done), Effect::Close);
        }
        let mut v = view(1, 0, 5);
        v.update(Key::Char('/'), &done);
        assert_eq!(v.update(Key::Interrupt, &done), Effect::Quit, "even while typing a search");
    }

    #[test]
    fn a_smaller_terminal_keeps_the_selection_on_screen() {
        let done = vec![false; 30];
        let mut v = view(30, 15, 20);
        assert_eq!(v.window(30), 0..20);
        v.set_height(5, &done);
        assert!(v.window(30).contains(&15));
        assert_eq!(v.window(30).len(), 5);
    }
}
