//! Fuzz target: see `journeyscope::fuzzing::json_document`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| journeyscope::fuzzing::json_document(data));
