//! The canvas palette and drawing weights: every colour and stroke weight the renderer uses,
//! in one place, so the app's panels and overlays can reuse the same values.
//!
//! The palette is meant for a light canvas: a warm off-white paper, dark slate architecture
//! (the drawing people read first), and muted, distinguishable inks per building system so
//! that electrical, mechanical and plumbing read as layers on top without shouting.

use arxos_doc::BuildingSystem;

/// An 8-bit sRGB colour with straight (non-premultiplied) alpha.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgba(pub [u8; 4]);

impl Rgba {
    /// An opaque colour from a `0xRRGGBB` literal.
    pub const fn hex(rgb: u32) -> Self {
        Self([(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8, 255])
    }

    /// Parses `#rrggbb` (or `#rgb`), as element styles store colours. `None` when malformed,
    /// so a bad style falls back to the theme instead of failing a frame.
    pub fn parse(s: &str) -> Option<Self> {
        let h = s.trim().strip_prefix('#')?;
        let v = u32::from_str_radix(h, 16).ok()?;
        match h.len() {
            6 => Some(Self::hex(v)),
            3 => {
                let (r, g, b) = ((v >> 8) & 0xf, (v >> 4) & 0xf, v & 0xf);
                Some(Self::hex(
                    ((r * 0x11) << 16) | ((g * 0x11) << 8) | (b * 0x11),
                ))
            }
            _ => None,
        }
    }

    /// The colour as `[r, g, b, a]` floats in 0..=1, still sRGB-encoded.
    pub fn to_f32(self) -> [f32; 4] {
        self.0.map(|c| f32::from(c) / 255.0)
    }

    /// The same colour with another alpha.
    #[must_use]
    pub const fn with_alpha(self, a: u8) -> Self {
        Self([self.0[0], self.0[1], self.0[2], a])
    }
}

/// The two colours of one building system: `ink` for strokes and symbols, `tint` for fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemColors {
    /// Strokes, symbols, outlines.
    pub ink: Rgba,
    /// Area fills (room tint, duct body).
    pub tint: Rgba,
}

/// Every colour and weight of the canvas.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// The paper behind the drawing.
    pub canvas: Rgba,
    /// Minor grid lines (for the app's grid overlay).
    pub grid_minor: Rgba,
    /// Major grid lines.
    pub grid_major: Rgba,
    /// Wall body (poché): the darkest, heaviest thing on the plan.
    pub wall: Rgba,
    /// Room floor tint.
    pub room_fill: Rgba,
    /// Room outline, a hairline: walls already draw the boundary where they exist.
    pub room_outline: Rgba,
    /// Door leaf and swing.
    pub door: Rgba,
    /// Window glazing fill.
    pub glass: Rgba,
    /// Text labels.
    pub text: Rgba,
    /// The knockout behind labels (the room tint, nearly opaque).
    pub label_halo: Rgba,
    /// Selection highlight for overlays.
    pub selection: Rgba,
    /// Hover highlight for overlays.
    pub hover: Rgba,
    /// Hairline weight in plan units (door swings, outlines).
    pub hairline_mm: f32,
    /// Ordinary line weight in plan units (symbols, pipes, dimensions).
    pub line_mm: f32,
    /// Narrowest on-screen stroke width: lines thinner than this at the current zoom are
    /// drawn this wide, so a zoomed-out plan stays legible while zoomed-in strokes keep their
    /// true width in millimetres.
    pub min_stroke_px: f32,
    /// Smallest on-screen text size (em height, pixels): labels of a zoomed-out plan grow to
    /// this instead of shrinking into specks; at readable zooms they keep their size in mm.
    pub min_text_px: f32,
    /// Text height when an element gives none.
    pub text_size_mm: f32,
    /// Wall thickness when a wall gives none.
    pub wall_thickness_mm: f32,
    /// Per-system colours, in [`BuildingSystem::ALL`] order.
    pub systems: [SystemColors; 6],
}

impl Theme {
    /// The light canvas theme (the default).
    pub fn light() -> Self {
        let sys = |ink, tint| SystemColors {
            ink: Rgba::hex(ink),
            tint: Rgba::hex(tint),
        };
        Self {
            canvas: Rgba::hex(0x00FB_FAF7),
            grid_minor: Rgba::hex(0x00EE_EDE8),
            grid_major: Rgba::hex(0x00E0_DED7),
            wall: Rgba::hex(0x0037_4249),
            room_fill: Rgba::hex(0x00F1_EEE7),
            room_outline: Rgba::hex(0x00CF_CAC0),
            door: Rgba::hex(0x005C_6870),
            glass: Rgba::hex(0x00DD_EBF2),
            text: Rgba::hex(0x002E_3439),
            label_halo: Rgba::hex(0x00F1_EEE7).with_alpha(0xE0),
            selection: Rgba::hex(0x001E_88E5),
            hover: Rgba::hex(0x0064_B5F6),
            hairline_mm: 12.0,
            line_mm: 20.0,
            min_stroke_px: 0.8,
            min_text_px: 9.0,
            text_size_mm: 250.0,
            wall_thickness_mm: 150.0,
            systems: [
                // Architectural, Electrical, Mechanical, Plumbing, Security, Annotation.
                sys(0x0037_4249, 0x00F1_EEE7),
                sys(0x00C2_5A14, 0x00F7_E6D8),
                sys(0x0035_6FA6, 0x00E1_EBF4),
                sys(0x0017_7F86, 0x00D8_EEEE),
                sys(0x0076_4F99, 0x00EC_E3F2),
                sys(0x005E_6468, 0x00EC_ECEA),
            ],
        }
    }

    /// The colours of one building system.
    pub fn system(&self, system: BuildingSystem) -> SystemColors {
        let i = BuildingSystem::ALL
            .iter()
            .position(|s| *s == system)
            .unwrap_or(0);
        self.systems[i]
    }
}

impl Default for Theme {
    fn default() -> Self {
        Self::light()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_style_colours() {
        assert_eq!(Rgba::parse("#e65100"), Some(Rgba([0xe6, 0x51, 0, 255])));
        assert_eq!(Rgba::parse("#fff"), Some(Rgba([255, 255, 255, 255])));
        assert_eq!(Rgba::parse("red"), None);
        assert_eq!(Rgba::parse("#12345"), None);
    }

    #[test]
    fn every_system_has_distinct_ink() {
        let t = Theme::light();
        for (i, a) in t.systems.iter().enumerate() {
            for b in &t.systems[i + 1..] {
                assert_ne!(a.ink, b.ink);
            }
        }
        assert_eq!(t.system(BuildingSystem::Electrical).ink, t.systems[1].ink);
    }
}
