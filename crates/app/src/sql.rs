//! Statements assembled from fragments that different modules own, without any module counting
//! another's parameters.
//!
//! A module that shares a piece of SQL (the phone's attempt limits, the customer lookup, the move
//! of a code to `used`, the audit rows) exports two things: a function that writes the fragment
//! with placeholders taken from a [`Params`], returning the [`Slot`] they occupy, and a function
//! that binds its values through a [`Binder`] at that slot. The statement that assembles the
//! fragments decides the numbering in one place (the order it calls them), usually once, in a
//! `LazyLock`, so its text is the same on every call and the prepared-statement cache keeps
//! hitting. Binding is positional in PostgreSQL; the [`Binder`] counts the values bound so far and
//! every fragment's binder checks that it starts at its slot and fills it exactly, so a change to
//! one fragment's parameters fails the first test that runs the statement instead of silently
//! binding a value to another module's placeholder.

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::{Query, QueryAs, QueryScalar};

/// Hands out `$n` placeholders as a statement is assembled.
#[derive(Debug)]
pub struct Params {
    next: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self::new()
    }
}

impl Params {
    pub fn new() -> Self {
        Self { next: 1 }
    }

    /// `N` fresh placeholders (`$k` … `$k+N-1`) and the slot they occupy.
    pub fn take<const N: usize>(&mut self) -> (Slot, [String; N]) {
        let first = self.next;
        self.next += N;
        (
            Slot { first, len: N },
            std::array::from_fn(|i| format!("${}", first + i)),
        )
    }

    /// How many placeholders have been handed out.
    pub fn count(&self) -> usize {
        self.next - 1
    }
}

/// Where a fragment's parameters sit in a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    first: usize,
    len: usize,
}

impl Slot {
    /// Number of the first placeholder.
    pub fn first(&self) -> usize {
        self.first
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A query of any of sqlx's three shapes that takes positional values.
pub trait Bind<'q>: Sized {
    fn bind_value<T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>>(self, value: T) -> Self;
}

impl<'q> Bind<'q> for Query<'q, Postgres, PgArguments> {
    fn bind_value<T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>>(self, value: T) -> Self {
        self.bind(value)
    }
}

impl<'q, O> Bind<'q> for QueryAs<'q, Postgres, O, PgArguments> {
    fn bind_value<T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>>(self, value: T) -> Self {
        self.bind(value)
    }
}

impl<'q, O> Bind<'q> for QueryScalar<'q, Postgres, O, PgArguments> {
    fn bind_value<T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>>(self, value: T) -> Self {
        self.bind(value)
    }
}

/// A query being bound, with the number of the next placeholder.
pub struct Binder<Q> {
    q: Q,
    next: usize,
}

impl<'q, Q: Bind<'q>> Binder<Q> {
    pub fn new(q: Q) -> Self {
        Self { q, next: 1 }
    }

    /// Binds the next placeholder.
    pub fn bind<T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>>(self, value: T) -> Self {
        Self {
            q: self.q.bind_value(value),
            next: self.next + 1,
        }
    }

    /// Binds a fragment's values at its slot: `fill` must start where the slot starts and bind
    /// exactly the slot's placeholders (checked: a mismatch is a programming error).
    pub fn at(self, slot: Slot, fill: impl FnOnce(Self) -> Self) -> Self {
        assert_eq!(
            self.next, slot.first,
            "a fragment's values are bound at ${} but its placeholders start at ${}",
            self.next, slot.first
        );
        let out = fill(self);
        assert_eq!(
            out.next,
            slot.first + slot.len,
            "a fragment bound {} value(s) for its {} placeholder(s)",
            out.next - slot.first,
            slot.len
        );
        out
    }

    /// The query, once every placeholder of `params` is bound.
    pub fn finish(self, params: usize) -> Q {
        assert_eq!(
            self.next - 1,
            params,
            "a statement bound {} of its {params} values",
            self.next - 1
        );
        self.q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_handed_out_in_order() {
        let mut p = Params::new();
        let (a, [x, y]) = p.take::<2>();
        let (b, [z]) = p.take::<1>();
        assert_eq!((x.as_str(), y.as_str(), z.as_str()), ("$1", "$2", "$3"));
        assert_eq!((a.first(), a.len(), b.first()), (1, 2, 3));
        assert_eq!(p.count(), 3);
    }

    #[test]
    #[should_panic(expected = "placeholders start at")]
    fn binding_out_of_place_is_caught() {
        let mut p = Params::new();
        let (_a, [_x]) = p.take::<1>();
        let (b, [_y]) = p.take::<1>();
        let _ = Binder::new(sqlx::query("select $1, $2")).at(b, |q| q.bind(1_i32));
    }
}
