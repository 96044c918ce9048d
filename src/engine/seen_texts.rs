//! Texts of one batch met before, found again by where the batch holds
//! them. A leaf of the engine.

/// Texts of one batch met before, by where the batch holds them: a source
/// that holds a text many events share once (an event name, a channel)
/// gives it at the same place each time, so that it is found again without
/// being hashed or compared. Forgotten at each batch, whose memory may hold
/// other texts next time.
#[derive(Debug, Clone, Default)]
pub(super) struct SeenTexts {
    /// (address, length, what it became); an address of 0 is no text.
    slots: [(usize, usize, Option<u32>); SEEN_SLOTS],
}

/// Texts a [`SeenTexts`] remembers at most.
const SEEN_SLOTS: usize = 32;

impl SeenTexts {
    fn slot(text: &str) -> usize {
        let at = text.as_ptr() as usize;
        (at ^ at >> 5) % SEEN_SLOTS
    }

    /// What `text`, at this place, became, if it was met.
    pub fn get(&self, text: &str) -> Option<Option<u32>> {
        let (at, len, what) = self.slots[Self::slot(text)];
        (at == text.as_ptr() as usize && len == text.len() && at != 0).then_some(what)
    }

    /// Remembers what `text` became.
    pub fn put(&mut self, text: &str, what: Option<u32>) {
        self.slots[Self::slot(text)] = (text.as_ptr() as usize, text.len(), what);
    }

    /// Forgets every text.
    pub fn clear(&mut self) {
        self.slots = [(0, 0, None); SEEN_SLOTS];
    }
}
