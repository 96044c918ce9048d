//! Fuzz target: see `journeyscope::fuzzing::kafka_value`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| journeyscope::fuzzing::kafka_value(data));
