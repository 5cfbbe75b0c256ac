//! Fuzz target: see `arxos_sync::fuzzing::invite_code` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    arxos_sync::fuzzing::invite_code(data);
});
