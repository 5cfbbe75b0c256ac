//! Fuzz target: see `arxos_doc::fuzzing::arx_load` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    arxos_doc::fuzzing::arx_load(data);
});
