//! The bundled sample plan: an office floor shipped as SVGX and opened by default.

/// The sample plan's SVGX text, embedded in the binary so it works offline and anywhere.
pub const SAMPLE_SVGX: &str = include_str!("../assets/sample-office.svgx");
