//! This package holds only tests: see `book.rs` and `diffs.rs` beside it.
