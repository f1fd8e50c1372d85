//! Shared helpers for the cross-layer tests (the tests are the files in this folder).
