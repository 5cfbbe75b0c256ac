//! Tessellating a whole plan on every core: opening a plan and rebuilding the scene
//! tessellate every element, the largest part of the time before the first frame on big plans
//! (each element is independent; lyon's tessellators and the glyph cache are per worker).

use std::collections::BTreeMap;

use arxos_doc::{BuildingSystem, Element, LayerId};

use crate::tessellate::{ElementDraw, Tessellator};

/// Below this many elements per worker, starting threads costs more than it saves.
const PER_WORKER_AT_LEAST: usize = 2_000;

/// The building system an element is drawn in (its layer's).
pub(super) fn system_of(
    systems: &BTreeMap<LayerId, BuildingSystem>,
    e: &Element,
) -> BuildingSystem {
    systems
        .get(&e.layer)
        .copied()
        .unwrap_or(BuildingSystem::Annotation)
}

/// Every element of `elements` tessellated, in order: split over the machine's cores when
/// there are enough of them, else on this thread with `tess`.
pub(super) fn tessellate_all(
    tess: &mut Tessellator,
    systems: &BTreeMap<LayerId, BuildingSystem>,
    elements: &[&Element],
) -> Vec<ElementDraw> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(elements.len() / PER_WORKER_AT_LEAST)
        .max(1);
    tessellate_on(tess, systems, elements, workers)
}

/// [`tessellate_all`] on `workers` threads.
fn tessellate_on(
    tess: &mut Tessellator,
    systems: &BTreeMap<LayerId, BuildingSystem>,
    elements: &[&Element],
    workers: usize,
) -> Vec<ElementDraw> {
    if workers <= 1 || elements.is_empty() {
        return elements
            .iter()
            .map(|e| tess.element(e, system_of(systems, e)))
            .collect();
    }
    let per = elements.len().div_ceil(workers);
    let theme = tess.theme().clone();
    let parts: Vec<Option<Vec<ElementDraw>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = elements
            .chunks(per)
            .map(|part| {
                let theme = theme.clone();
                scope.spawn(move || {
                    // The same font the caller's tessellator loaded, so this cannot fail where
                    // that one did not; if it does, the caller's thread does this part.
                    let mut tess = Tessellator::new(theme).ok()?;
                    Some(
                        part.iter()
                            .map(|e| tess.element(e, system_of(systems, e)))
                            .collect::<Vec<_>>(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(elements.len());
    for (part, drawn) in elements.chunks(per).zip(parts) {
        match drawn {
            Some(drawn) => out.extend(drawn),
            None => out.extend(part.iter().map(|e| tess.element(e, system_of(systems, e)))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::Theme;
    use arxos_doc::EditContext;
    use arxos_doc::generate::{GenerateOptions, generate};

    #[test]
    fn workers_draw_exactly_what_one_thread_draws_in_the_same_order() {
        let doc = generate(
            &GenerateOptions {
                elements: 700,
                floors: 2,
                seed: 11,
                name: "parallel".into(),
            },
            &EditContext::at("test", 0),
            |_, _| {},
        )
        .unwrap();
        let systems: BTreeMap<LayerId, BuildingSystem> = doc
            .layers()
            .iter()
            .map(|(id, l)| (id.clone(), l.system))
            .collect();
        let elements: Vec<&Element> = doc.elements().collect();
        let mut tess = Tessellator::new(Theme::light()).unwrap();
        let one = tessellate_on(&mut tess, &systems, &elements, 1);
        assert_eq!(one.len(), elements.len());
        assert!(one.iter().any(|d| !d.mesh.indices.is_empty()));
        for workers in [2, 3, 8] {
            let many = tessellate_on(&mut tess, &systems, &elements, workers);
            assert!(one == many, "{workers} workers drew something else");
        }
    }
}
