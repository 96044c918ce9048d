//! Fuzz target: see `journeyscope::fuzzing::delimited`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| journeyscope::fuzzing::delimited(data));
