//! Shared tokio adapter code for the `broker`, `pub` and `sub` examples (to come).
#![forbid(unsafe_code)]
