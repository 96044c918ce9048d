//! Fuzz target: see `journeyscope::fuzzing::saved_state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| journeyscope::fuzzing::saved_state(data));
