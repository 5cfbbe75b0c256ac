//! Conversions: SVG/SVGX import, SVGX export, and plan generation.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use arxos_doc::file::{PlanFile, write_atomic};
use arxos_doc::generate::{GenerateOptions, generate as gen_plan, sample_office};
use arxos_doc::svgx::{ExportOptions, export_svgx, import_svg, left_out};
use arxos_doc::{Document, EditContext, FloorId};
use serde::Serialize;

use super::output::esc;
use super::{Author, Out};

fn refuse_overwrite(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        bail!(
            "{} already exists; pass --force to replace it (the old file is kept as .bak)",
            path.display()
        );
    }
    Ok(())
}

/// Writes a plan to `.arx`, or an SVGX drawing for `.svg`/`.svgx`.
fn write_plan(doc: &mut Document, path: &Path) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ext == "svg" || ext == "svgx" {
        let svg = export_svgx(doc, &ExportOptions::default());
        write_atomic(path, svg.as_bytes(), false)?;
    } else {
        PlanFile::create(path, doc)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Exported {
    output: String,
    bytes: usize,
    left_out: arxos_doc::svgx::LeftOut,
}

#[derive(Serialize)]
struct Generated {
    output: String,
    elements: usize,
    seconds: f64,
}

#[derive(Serialize)]
struct Imported<'a> {
    output: String,
    report: &'a arxos_doc::svgx::ImportReport,
}

/// Import warnings shown on standard error before the rest are counted in one line: a file
/// with 50,000 damaged elements must not bury the outcome under 50,000 lines. The JSON report
/// lists them all.
const SHOWN_WARNINGS: usize = 20;

/// Prints the first [`SHOWN_WARNINGS`] import warnings, one line each (text from the file is
/// escaped, so an id with a line break cannot forge a line), then how many more there are.
fn print_warnings(input: &Path, warnings: &[String], json: bool) {
    let file = input.display().to_string();
    for w in warnings.iter().take(SHOWN_WARNINGS) {
        eprintln!("warning: {}: {}", esc(&file), esc(w));
    }
    let more = warnings.len().saturating_sub(SHOWN_WARNINGS);
    if more > 0 {
        let s = if more == 1 { "" } else { "s" };
        let all = if json {
            "all of them are in the JSON output"
        } else {
            "use --json for all of them"
        };
        eprintln!("… and {more} more warning{s} ({all})");
    }
}

/// `arxos import`.
pub fn import(
    out: Out,
    input: &Path,
    output: &Path,
    force: bool,
    author: &Author,
) -> anyhow::Result<()> {
    out.guard(|| {
        refuse_overwrite(output, force)?;
        let text = std::fs::read_to_string(input)
            .with_context(|| format!("cannot read {}", input.display()))?;
        let stem = input
            .file_stem()
            .map_or_else(|| "plan".into(), |s| s.to_string_lossy().into_owned());
        let (mut doc, report) = import_svg(&text, &stem, &EditContext::now(author.name()))
            .with_context(|| input.display().to_string())?;
        PlanFile::create(output, &mut doc)?;
        print_warnings(input, &report.warnings, out.json);
        let o = Imported {
            output: output.display().to_string(),
            report: &report,
        };
        out.emit(&o, || {
            outln!(
                "imported {} SVGX elements and {} plain paths on {} floor(s), {} layer(s) into {}",
                report.svgx_elements,
                report.plain_paths,
                report.floors,
                report.layers,
                output.display()
            );
        })
    })
}

/// `arxos export`.
pub fn export(out: Out, input: &Path, output: &Path, floor: Option<String>) -> anyhow::Result<()> {
    out.guard(|| {
        let mut doc = super::read::open(input)?;
        let floor = floor.map(FloorId::new);
        if let Some(f) = &floor
            && !doc.floors().contains_key(f)
        {
            bail!("unknown floor `{f}` (see `arxos info`)");
        }
        let opts = ExportOptions { floor };
        let svg = export_svgx(&doc, &opts);
        let left_out = left_out(&mut doc, &opts);
        let note = || {
            eprintln!(
                "note: SVGX keeps {}; it leaves out {} (see `arxos export --help`)",
                arxos_doc::svgx::export::KEEPS,
                left_out.describe()
            );
        };
        if output.as_os_str() == "-" {
            std::io::stdout()
                .write_all(svg.as_bytes())
                .context("writing to standard output")?;
            note();
            return Ok(());
        }
        write_atomic(output, svg.as_bytes(), false)?;
        note();
        let o = Exported {
            output: output.display().to_string(),
            bytes: svg.len(),
            left_out: left_out.clone(),
        };
        out.emit(&o, || {
            outln!("exported to {} ({} bytes)", o.output, o.bytes);
        })
    })
}

/// `arxos generate`.
pub fn generate(
    out: Out,
    output: &Path,
    elements: usize,
    floors: usize,
    seed: u64,
    sample: bool,
    force: bool,
) -> anyhow::Result<()> {
    out.guard(|| {
        refuse_overwrite(output, force)?;
        if !sample && elements == 0 {
            bail!("--elements must be at least 1");
        }
        let ctx = EditContext::now("arxos-generate");
        let started = std::time::Instant::now();
        let show_progress = !out.json && elements >= 5_000;
        let mut doc = if sample {
            sample_office(&ctx)?
        } else {
            let opts = GenerateOptions {
                elements,
                floors,
                seed,
                name: format!("Synthetic plan ({elements} elements)"),
            };
            let mut last = 0;
            let doc = gen_plan(&opts, &ctx, |done, total| {
                let pct = done * 100 / total.max(1);
                if show_progress && pct / 10 != last / 10 {
                    eprint!("\rgenerating… {pct:>3}% ({done}/{total})");
                    last = pct;
                }
            })?;
            if show_progress {
                eprintln!();
            }
            doc
        };
        write_plan(&mut doc, output)?;
        let o = Generated {
            output: output.display().to_string(),
            elements: doc.stats().elements,
            seconds: started.elapsed().as_secs_f64(),
        };
        out.emit(&o, || {
            outln!(
                "wrote {} elements to {} in {:.1} s",
                o.elements,
                o.output,
                o.seconds
            );
        })
    })
}
