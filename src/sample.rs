//! The bundled sample plan: an office floor shipped as SVGX and opened by default.

use arxos_doc::{Document, EditContext};

/// The sample plan's SVGX text, embedded in the binary so it works offline and anywhere.
pub const SAMPLE_SVGX: &str = include_str!("../assets/sample-office.svgx");

/// Imports the embedded sample.
pub fn sample_plan() -> arxos_doc::Result<Document> {
    let (doc, _report) =
        arxos_doc::svgx::import_svg(SAMPLE_SVGX, "sample-office", &EditContext::now("arxos"))?;
    Ok(doc)
}
