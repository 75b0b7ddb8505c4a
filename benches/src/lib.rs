//! Shared inputs for the benchmarks: the packets every codec benchmark encodes and decodes.
#![forbid(unsafe_code)]
