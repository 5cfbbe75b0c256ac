//! The checks the fuzz targets in `fuzz/` run, kept here so that the targets (nightly,
//! cargo-fuzz) and the regression tests over their corpora (stable, `cargo test`) run the same
//! code. Each check takes arbitrary bytes and panics only when a property is broken: reading a
//! damaged or hostile file must never panic, and whatever is read must survive a round trip.
//!
//! Not an API: hidden from the docs, and free to change with the targets.

use std::path::Path;

use crate::EditContext;
use crate::svgx::{ExportOptions, export_svgx, import_svg};

/// SVG or SVGX text imports without panicking. A plan that imports exports to SVGX that
/// imports again with the same elements (an export is what `arxos export` writes and people
/// share; it must read back).
pub fn svg_import(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ctx = EditContext::at("fuzz", 0);
    let Ok((doc, report)) = import_svg(&text, "fuzz", &ctx) else {
        return;
    };
    let count = doc.elements().count();
    assert_eq!(
        count,
        report.svgx_elements + report.plain_paths,
        "the report does not count what was imported"
    );
    let exported = export_svgx(&doc, &ExportOptions::default());
    let again = match import_svg(&exported, "fuzz", &ctx) {
        Ok((again, _)) => again,
        Err(err) => panic!("an imported plan exported to SVGX that does not import: {err}"),
    };
    let ids = |d: &crate::Document| d.elements().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&doc),
        ids(&again),
        "the SVGX export lost or added elements"
    );
}

/// Bytes read as an `.arx` plan file decode without panicking (torn tails, bad checksums,
/// foreign data, other schemas are errors or warnings). A plan that decodes saves to bytes
/// that decode to the same version and elements.
pub fn arx_load(data: &[u8]) {
    let path = Path::new("fuzz.arx");
    let Ok(mut doc) = crate::file::decode(path, data) else {
        return;
    };
    let _ = doc.stats();
    let heads = doc.heads();
    let bytes = doc.save();
    let mut again = match crate::file::decode(path, &bytes) {
        Ok(again) => again,
        Err(err) => panic!("a decoded plan saved to bytes that do not decode: {err}"),
    };
    assert_eq!(heads, again.heads(), "saving changed the plan's version");
    let ids = |d: &crate::Document| d.elements().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&doc), ids(&again), "saving lost or added elements");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_accept_real_inputs_and_garbage() {
        let sample = include_str!("../../../assets/sample-office.svgx");
        svg_import(sample.as_bytes());
        let (mut doc, _) = import_svg(sample, "s", &EditContext::at("t", 0)).unwrap();
        arx_load(&doc.save());
        for garbage in [
            &b""[..],
            b"<svg",
            b"\x85\x6f\x4a\x83",
            b"<svg><rect x='1'/></svg>",
        ] {
            svg_import(garbage);
            arx_load(garbage);
        }
    }
}
