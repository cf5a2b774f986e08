//! A box that exists only while its contents differ from their resting value.
//!
//! Parts of a connection's state — the flight and its recovery, an active Fast Open —
//! matter only while something is happening; the rest of the time every field holds
//! the same resting value. `Lazy` keeps such a part out of the connection's record:
//! reads of an absent box see the shared resting value, the first write allocates, and
//! the owner gives the box back when it is at rest again. Equality with the resting
//! value decides, so nothing that still matters can be dropped.
use std::ops::{Deref, DerefMut};

/// State with a resting value that an absent box stands for.
pub(crate) trait AtRest: Clone + PartialEq + 'static {
    /// The resting value, shared by every absent box.
    fn at_rest() -> &'static Self;
    /// A new resting value for a box (a constant where there is one: cheaper than a
    /// clone field by field).
    fn fresh() -> Self {
        Self::at_rest().clone()
    }
    /// Put back to rest what no longer matters, before the comparison that may free the
    /// box (called only when the owner says the part is idle).
    fn settle(&mut self) {}
}

/// `T`, boxed while not at rest.
#[derive(Debug)]
pub(crate) struct Lazy<T: AtRest>(Option<Box<T>>);

impl<T: AtRest> Default for Lazy<T> {
    fn default() -> Self {
        Lazy(None)
    }
}

impl<T: AtRest> Lazy<T> {
    /// Whether the box exists (for tests and memory accounting).
    pub(crate) fn allocated(&self) -> bool {
        self.0.is_some()
    }

    /// For a reset that need not allocate: `None` when already at rest.
    pub(crate) fn if_any(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }

    /// Give the box back if everything in it is at rest; `idle`: the owner says
    /// `settle` may first put to rest what no longer matters.
    pub(crate) fn release_if_at_rest(&mut self, idle: bool) {
        if let Some(t) = self.0.as_deref_mut() {
            if idle {
                t.settle();
            }
            if t == T::at_rest() {
                self.0 = None;
            }
        }
    }
}

impl<T: AtRest> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or(T::at_rest())
    }
}

impl<T: AtRest> DerefMut for Lazy<T> {
    /// The first write allocates the box, at rest.
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(|| Box::new(T::fresh()))
    }
}
