//! Fuzz target: see `arxos_relay::fuzzing::room_judge` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = arxos_relay::fuzzing::room_judge(data);
});
