//! CPU-side triangle meshes in the exact layout the GPU reads (`bytemuck` plain data), so an
//! upload is a byte copy.

use bytemuck::{Pod, Zeroable};

use crate::theme::Rgba;

/// The colour a symbol vertex uses to mean "the instance's colour" (alpha 0 never occurs in
/// an opaque drawing, so it cannot clash with a real colour).
pub const INK: [u8; 4] = [0, 0, 0, 0];

/// One vertex. Fill vertices sit at `position` with a zero `normal`; stroke vertices sit on
/// the path at `position` and are pushed out along `normal` by `half_width_mm`, in the
/// shader, so that the shader can widen hairlines to a minimum on-screen width while every
/// other stroke keeps its width in plan millimetres.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct Vertex {
    /// Plan position (mm); for strokes, the point on the path's centre line.
    pub position: [f32; 2],
    /// Stroke extrusion direction, scaled as lyon scales it (zero for fills).
    pub normal: [f32; 2],
    /// Half the stroke width in plan millimetres (zero for fills; negative for text
    /// vertices, see `Pen::fill_text`).
    pub half_width_mm: f32,
    /// sRGB colour; [`INK`] in symbol meshes.
    pub color: [u8; 4],
}

/// One placed symbol: where, which way, what colour.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct Instance {
    /// Plan position (mm) of the symbol's origin.
    pub position: [f32; 2],
    /// `[cos, sin]` of the rotation.
    pub rotation: [f32; 2],
    /// sRGB colour for the symbol's ink.
    pub color: [u8; 4],
}

impl Instance {
    /// An instance at `(x, y)` rotated `degrees` (as SVG's `rotate()`), in `color`.
    pub fn new(x: f64, y: f64, degrees: f64, color: Rgba) -> Self {
        let (s, c) = degrees.to_radians().sin_cos();
        Self {
            position: [x as f32, y as f32],
            rotation: [c as f32, s as f32],
            color: color.0,
        }
    }
}

/// An indexed triangle list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mesh {
    /// Vertices.
    pub vertices: Vec<Vertex>,
    /// Triangle indices into `vertices`.
    pub indices: Vec<u32>,
}

impl Mesh {
    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Appends another mesh, rebasing its indices.
    pub fn append(&mut self, other: &Mesh) {
        let base = self.vertices.len() as u32;
        self.vertices.extend_from_slice(&other.vertices);
        self.indices.extend(other.indices.iter().map(|i| i + base));
    }

    /// Empties the mesh, keeping its allocations.
    pub fn clear(&mut self) {
        self.vertices.clear();
        self.indices.clear();
    }

    /// Size in bytes of the vertex and index data.
    pub fn byte_size(&self) -> usize {
        std::mem::size_of_val(self.vertices.as_slice())
            + std::mem::size_of_val(self.indices.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_rebases_indices() {
        let v = Vertex {
            position: [0.0, 0.0],
            normal: [0.0, 0.0],
            half_width_mm: 0.0,
            color: [1, 2, 3, 4],
        };
        let tri = Mesh {
            vertices: vec![v; 3],
            indices: vec![0, 1, 2],
        };
        let mut m = tri.clone();
        m.append(&tri);
        assert_eq!(m.indices, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(std::mem::size_of::<Vertex>(), 24);
        assert_eq!(std::mem::size_of::<Instance>(), 20);
    }
}
