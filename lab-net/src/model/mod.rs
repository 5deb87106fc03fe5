//! The builders the user writes.
