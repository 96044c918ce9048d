//! Fuzz target: see `journeyscope::fuzzing::timestamp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| journeyscope::fuzzing::timestamp(data));
