//! Damaged and hostile SVGX files: every SVGX element is imported exactly once, from its
//! semantics, or skipped with a warning that names it; a bad number is never zeroed, never
//! turned into a plain path, and never refuses the rest of the file. Plain SVG shapes with a
//! bad number in their geometry, or geometry that is not a number at all, are skipped and named
//! the same way.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use arxos_doc::svgx::{ImportReport, import_svg};
use arxos_doc::{Document, EditContext, ElementKind, Filter, Geometry};

fn import(body: &str) -> (Document, ImportReport) {
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:arx="https://arxos.studio/ns/svgx/1" viewBox="0 0 1000 1000">
{body}
</svg>"#
    );
    import_svg(
        &svg,
        "damaged",
        &EditContext::at("importer", 1_700_000_000_000),
    )
    .unwrap()
}

/// The report's warnings are exactly `expected` in order, each starting with its line.
fn assert_warnings(report: &ImportReport, expected: &[&str]) {
    assert_eq!(
        report.warnings.len(),
        expected.len(),
        "{:#?}",
        report.warnings
    );
    for (w, e) in report.warnings.iter().zip(expected) {
        assert!(w.starts_with(e), "{w}\n  expected: {e}");
    }
}

fn tags(doc: &Document) -> Vec<String> {
    let mut t: Vec<String> = doc
        .query(&Filter::default())
        .map(|e| e.tag.clone())
        .collect();
    t.sort();
    t
}

#[test]
fn an_svgx_element_without_an_id_is_imported_once() {
    let (doc, report) = import(
        r#"<rect arx:kind="wall" arx:tag="wall:no-id" x="0" y="0" width="100" height="50"/>
           <rect x="5" y="5" width="10" height="10"/>"#,
    );
    assert_eq!(tags(&doc), ["path:root-1", "wall:no-id"]);
    assert_eq!((report.svgx_elements, report.plain_paths), (1, 1));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The drawing of an SVGX element (its children) is not imported as plain paths either.
    let (doc, report) = import(
        r#"<g arx:kind="outlet" arx:geom="point" arx:tag="outlet:drawn" arx:x="5" arx:y="5">
             <circle r="4"/><path d="M 0 0 L 4 4"/>
           </g>"#,
    );
    assert_eq!(tags(&doc), ["outlet:drawn"]);
    assert_eq!(report.plain_paths, 0);
}

#[test]
fn an_element_with_a_bad_number_is_skipped_by_name_and_the_rest_imports() {
    let (doc, report) = import(
        r#"<rect id="nan-x" arx:kind="wall" arx:tag="wall:nan-x" arx:x="NaN" arx:y="0" width="100" height="50"/>
<rect id="huge-w" arx:kind="wall" arx:tag="wall:huge-w" width="1e400" height="50"/>
<polyline id="inf-pt" arx:kind="wall" arx:tag="wall:inf-pt" points="0,0 1e400,0"/>
<circle id="nan-volt" arx:kind="outlet" arx:geom="point" arx:tag="outlet:nan-volt" arx:num-voltage="NaN" r="5"/>
<rect id="negative" arx:kind="wall" arx:tag="wall:negative" width="-5" height="50"/>
<path id="bad-d" arx:kind="wall" arx:tag="wall:bad-d" d="M 0 0 L NaN 5"/>
<circle id="text-volt" arx:kind="outlet" arx:geom="point" arx:tag="outlet:text-volt" arx:str-voltage="high" r="5"/>
<circle id="ok" arx:kind="outlet" arx:geom="point" arx:tag="outlet:ok" arx:num-voltage="230" r="5"/>"#,
    );
    // Only the sound element: none of the damaged ones became a plain path or a zero.
    assert_eq!(tags(&doc), ["outlet:ok"]);
    assert_eq!((report.svgx_elements, report.plain_paths), (1, 0));
    let ids = [
        "nan-x",
        "huge-w",
        "inf-pt",
        "nan-volt",
        "negative",
        "bad-d",
        "text-volt",
    ];
    assert_eq!(report.warnings.len(), ids.len(), "{:#?}", report.warnings);
    for (id, w) in ids.iter().zip(&report.warnings) {
        assert!(w.contains(&format!("id=\"{id}\"")), "{w}");
        assert!(w.contains("skipped"), "{w}");
        assert!(w.starts_with("line "), "{w}");
    }
    // Lines count from the `<svg>` line: the first element is on line 2.
    assert!(
        report.warnings[0].starts_with("line 2: "),
        "{}",
        report.warnings[0]
    );
    assert!(
        report.warnings[6].starts_with("line 8: "),
        "{}",
        report.warnings[6]
    );
    assert!(report.warnings[0].contains(r#"arx:x="NaN""#));
    assert!(report.warnings[3].contains(r#"arx:num-voltage="NaN""#));
}

#[test]
fn a_plain_shape_with_a_bad_number_is_skipped_by_name_not_zeroed() {
    let (doc, report) = import(
        r#"<rect id="good" x="5" y="5" width="10" height="10"/>
<rect id="nan-x" x="NaN" y="0" width="10" height="10"/>
<circle cx="5" cy="5" r="1e400"/>
<path id="far" d="M 0 0 L 1e400 0"/>
<g id="moved" transform="translate(2e9 0)"><rect width="10" height="10"/></g>
<polygon id="pts" points="0,0 10,0 10,inf"/>
<rect id="nan-w" arx:note="not SVGX" x="0" y="0" width="NaN" height="10"/>
<g id="scaled" transform="scale(1e5)"><rect id="big" width="1e5" height="1"/></g>"#,
    );
    // usvg alone would have drawn the NaN rect at 0, the circle with radius 0, the path up to
    // its bad point and the group's rect unmoved; none of them is imported.
    assert_eq!((report.svgx_elements, report.plain_paths), (0, 1));
    let paths: Vec<String> = doc
        .query(&Filter::default())
        .map(|e| match &e.geometry {
            Geometry::Path { d } => d.clone(),
            g => panic!("{g:?}"),
        })
        .collect();
    assert_eq!(paths.len(), 1);
    assert!(paths[0].starts_with("M5 5 "), "{paths:?}");
    let expected = [
        r#"line 3: <rect id="nan-x">: skipped: x="NaN" is not a finite number"#,
        r#"line 4: <circle>: skipped: r="1e400" is not a finite number"#,
        r#"line 5: <path id="far">: skipped: d holds 1e400, not a finite number"#,
        r#"line 6: <g id="moved">: skipped: transform holds 2e9, not a finite number"#,
        r#"line 7: <polygon id="pts">: skipped: points holds inf, not a finite number"#,
        r#"line 8: <rect id="nan-w">: skipped: width="NaN" is not a finite number"#,
        // Each number in range, the drawing out of range: left out by name, not refusing the
        // whole file (usvg has no line numbers to give).
        r#"plain shape id="big" in group `scaled`: skipped: "#,
    ];
    assert_warnings(&report, &expected);
    assert!(
        report.warnings[6].contains("out of range"),
        "{}",
        report.warnings[6]
    );
}

#[test]
fn a_plain_shape_whose_geometry_is_not_a_number_is_skipped_by_name() {
    let (doc, report) = import(
        r#"<rect id="good" x="5" y="5" width="10" height="10" style="stroke-width: 2"/>
<rect id="abc" x="abc" y="0" width="10" height="10"/>
<path id="cut" d="M 0 0 L 10 10 L oops"/>
<g id="odd" transform="spin(45)"><rect width="10" height="10"/></g>
<rect id="css" width="10" height="10" style="fill: red; stroke-width: NaN"/>
<rect id="css-moved" width="10" height="10" style="transform: translate(1e400px)"/>
<line id="fine" x1="0" y1="0" x2="1in" y2="50%" stroke="black"/>"#,
    );
    // usvg alone would have drawn `abc` at 0, `cut` without its last segment, `odd`'s rect
    // untransformed and `css` with the default stroke width.
    assert_eq!(
        (report.svgx_elements, report.plain_paths),
        (0, 2),
        "{report:#?}"
    );
    assert_eq!(doc.query(&Filter::default()).count(), 2);
    let expected = [
        r#"line 3: <rect id="abc">: skipped: x="abc" is not a length"#,
        r#"line 4: <path id="cut">: skipped: d="M 0 0 L 10 10 L oops" is not path data"#,
        r#"line 5: <g id="odd">: skipped: transform="spin(45)" is not a transform"#,
        r#"line 6: <rect id="css">: skipped: style stroke-width="NaN" is not a finite number"#,
        r#"line 7: <rect id="css-moved">: skipped: style transform holds 1e400"#,
    ];
    assert_warnings(&report, &expected);
}

#[test]
fn geometry_out_of_range_is_refused_with_a_warning() {
    let (doc, report) = import(
        r#"<polyline id="far" arx:kind="wall" arx:tag="wall:far" points="0,0 1e300,0"/>
<rect arx:kind="wall" arx:tag="wall:far-away" arx:x="1e305" arx:y="0" width="10" height="50"/>
<rect id="wide" arx:kind="room" arx:tag="room:wide" width="2e9" height="50"/>
<rect id="near" arx:kind="room" arx:tag="room:near" width="2000" height="50"/>"#,
    );
    assert_eq!(tags(&doc), ["room:near"]);
    assert_eq!(report.warnings.len(), 3, "{:#?}", report.warnings);
    assert!(report.warnings[0].contains(r#"<polyline id="far">"#));
    assert!(report.warnings[0].contains("out of range"));
    // Named by its tag when it has no id; huge numbers in exponent form.
    assert!(report.warnings[1].contains(r#"arx:tag="wall:far-away""#));
    assert!(
        report.warnings[1].contains("1e305"),
        "{}",
        report.warnings[1]
    );
    assert!(report.warnings[2].contains("out of range"));
}

#[test]
fn a_repeated_id_gets_a_fresh_one_instead_of_refusing_the_file() {
    let (doc, report) = import(
        r#"<circle id="o1" arx:kind="outlet" arx:geom="point" arx:tag="outlet:a" r="5"/>
<circle id="o1" arx:kind="outlet" arx:geom="point" arx:tag="outlet:b" r="5"/>"#,
    );
    assert_eq!(tags(&doc), ["outlet:a", "outlet:b"]);
    assert_eq!(doc.resolve("o1").unwrap().tag, "outlet:a");
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0].contains("`o1` is repeated"));
    assert_eq!(
        doc.query(&Filter {
            kind: Some(ElementKind::Outlet),
            ..Filter::default()
        })
        .count(),
        2
    );
}

#[test]
fn edits_out_of_range_are_refused_too() {
    let (mut doc, _) =
        import(r#"<circle id="o1" arx:kind="outlet" arx:geom="point" arx:tag="outlet:a" r="5"/>"#);
    let err = doc
        .apply(
            &EditContext::at("ana", 1_700_000_000_001),
            arxos_doc::Command::Move {
                ids: vec!["o1".into()],
                dx: 1e300,
                dy: 0.0,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
}
