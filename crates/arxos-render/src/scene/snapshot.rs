//! A drawn plan written to bytes and read back: the joined chunk meshes of a [`Scene`], so that
//! a window can show a large plan before its CRDT has loaded (see [`crate::SceneCache`]).
//!
//! A scene read back is a *picture*: it draws exactly what was drawn, but holds no per-element
//! cache, so it cannot follow edits. [`Scene::apply_changes`] on it rebuilds from the document,
//! and callers replace it with a scene of the loaded document as soon as they have one.
//!
//! Layout (little-endian): magic, the fingerprint of what drew it (format, crate version,
//! theme), the plan's metadata, the chunks, and a SHA-256 of everything before it, so a torn or
//! damaged cache file is refused, never drawn.

use std::collections::BTreeSet;

use arxos_doc::{Bounds, FloorId, LayerId, Point};
use sha2::{Digest as _, Sha256};

use super::{Chunk, ChunkKey, Frame, Scene, cull_area};
use crate::error::{RenderError, Result};
use crate::mesh::{Instance, Vertex};
use crate::theme::Theme;
use crate::view::View;

const MAGIC: &[u8; 8] = b"ARXSCN\0\x01";
/// Bumped whenever the layout or the meaning of a mesh changes.
const FORMAT: u32 = 1;
const TRAILER: usize = 32;

/// What a picture needs of the plan besides its meshes: enough to frame and filter it as the
/// live canvas would.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotInfo {
    /// The plan's name.
    pub name: String,
    /// Floors in their order (the window shows the first).
    pub floors: Vec<FloorId>,
    /// Layers the document itself hides.
    pub doc_hidden: BTreeSet<LayerId>,
    /// Bounds of every live element.
    pub extent: Option<Bounds>,
}

impl SnapshotInfo {
    /// What `doc` says of itself.
    pub fn of(doc: &arxos_doc::Document) -> Self {
        Self {
            name: doc.meta().name.clone(),
            floors: doc
                .floors_ordered()
                .into_iter()
                .map(|f| f.id.clone())
                .collect(),
            doc_hidden: doc
                .layers()
                .values()
                .filter(|l| !l.visible)
                .map(|l| l.id.clone())
                .collect(),
            extent: doc.extent(),
        }
    }
}

/// Identifies what drew a scene: a picture drawn by another build or with another theme is
/// not this build's picture of the plan.
pub fn fingerprint(theme: &Theme) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(FORMAT.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(format!("{theme:?}").as_bytes());
    h.finalize().into()
}

impl Scene {
    /// Whether this scene is a picture read back from bytes (it follows no edits).
    pub fn is_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The plan metadata of a picture.
    pub fn snapshot_info(&self) -> Option<&SnapshotInfo> {
        self.snapshot.as_ref()
    }

    /// This scene's chunks as bytes, with `info`.
    pub fn to_snapshot(&self, info: &SnapshotInfo) -> Vec<u8> {
        let mut out = Out(Vec::with_capacity(self.snapshot_len_hint()));
        out.0.extend_from_slice(MAGIC);
        out.0.extend_from_slice(&fingerprint(self.theme()));
        out.str(&info.name);
        out.bounds(info.extent);
        out.u32(info.floors.len());
        for f in &info.floors {
            out.str(f.as_str());
        }
        out.u32(info.doc_hidden.len());
        for l in &info.doc_hidden {
            out.str(l.as_str());
        }
        out.u32(self.chunks.len());
        for (key, chunk) in &self.chunks {
            out.0.push(key.band);
            out.str(key.floor.as_str());
            out.str(key.layer.as_str());
            out.0.extend_from_slice(&key.cell.0.to_le_bytes());
            out.0.extend_from_slice(&key.cell.1.to_le_bytes());
            out.bounds(chunk.bounds);
            out.u32(chunk.mesh.vertices.len());
            out.0
                .extend_from_slice(bytemuck::cast_slice(&chunk.mesh.vertices));
            out.u32(chunk.mesh.indices.len());
            out.0
                .extend_from_slice(bytemuck::cast_slice(&chunk.mesh.indices));
            out.u32(chunk.instances.len());
            out.0
                .extend_from_slice(bytemuck::cast_slice(&chunk.instances));
            for r in &chunk.symbol_ranges {
                out.0.extend_from_slice(&r.start.to_le_bytes());
                out.0.extend_from_slice(&r.end.to_le_bytes());
            }
        }
        let sum: [u8; 32] = Sha256::digest(&out.0).into();
        out.0.extend_from_slice(&sum);
        out.0
    }

    fn snapshot_len_hint(&self) -> usize {
        self.chunks
            .values()
            .map(|c| {
                128 + c.mesh.vertices.len() * size_of::<Vertex>()
                    + c.mesh.indices.len() * 4
                    + c.instances.len() * size_of::<Instance>()
            })
            .sum::<usize>()
            + 1024
    }

    /// A picture read back from [`Self::to_snapshot`]'s bytes, drawn with `theme`. Refuses
    /// bytes that are damaged, or were drawn by another build or with another theme.
    pub fn from_snapshot(bytes: &[u8], theme: Theme) -> Result<Self> {
        let bad = |why: &str| RenderError::Snapshot(why.to_owned());
        if bytes.len() < MAGIC.len() + 32 + TRAILER || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a scene snapshot"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - TRAILER);
        if Sha256::digest(body).as_slice() != sum {
            return Err(bad("damaged (checksum mismatch)"));
        }
        if body[MAGIC.len()..MAGIC.len() + 32] != fingerprint(&theme) {
            return Err(bad("drawn by another build or theme"));
        }
        let mut input = In {
            buf: body,
            at: MAGIC.len() + 32,
        };
        let mut info = SnapshotInfo {
            name: input.str()?,
            extent: input.bounds()?,
            ..SnapshotInfo::default()
        };
        for _ in 0..input.count()? {
            info.floors.push(FloorId::new(input.str()?));
        }
        for _ in 0..input.count()? {
            info.doc_hidden.insert(LayerId::new(input.str()?));
        }
        let mut scene = Self::new(theme)?;
        for _ in 0..input.count()? {
            let key = ChunkKey {
                band: input.take(1)?[0],
                floor: FloorId::new(input.str()?),
                layer: LayerId::new(input.str()?),
                cell: (input.i64()?, input.i64()?),
            };
            let mut chunk = Chunk {
                bounds: input.bounds()?,
                ..Chunk::default()
            };
            chunk.mesh.vertices = input.pods::<Vertex>()?;
            chunk.mesh.indices = input.pods::<u32>()?;
            chunk.instances = input.pods::<Instance>()?;
            let (vertices, instances) = (chunk.mesh.vertices.len(), chunk.instances.len());
            if chunk.mesh.indices.iter().any(|&i| i as usize >= vertices) {
                return Err(bad("an index points past its chunk's vertices"));
            }
            for range in &mut chunk.symbol_ranges {
                let (start, end) = (input.u32()?, input.u32()?);
                if start > end || end as usize > instances {
                    return Err(bad("a symbol range points past its chunk's instances"));
                }
                *range = start..end;
            }
            scene.generation += 1;
            chunk.generation = scene.generation;
            scene.chunks.insert(key, chunk);
        }
        if input.at != body.len() {
            return Err(bad("trailing bytes after the last chunk"));
        }
        scene.snapshot = Some(info);
        Ok(scene)
    }

    /// Plans a frame of a picture: the chunks meeting the view, on the shown floor and layers
    /// (a picture has no area index; its chunks' bounds stand in for it).
    pub fn plan_snapshot_frame(&self, view: &View) -> Frame {
        let area = cull_area(view);
        let doc_hidden = self.snapshot.as_ref().map(|s| &s.doc_hidden);
        let chunks: Vec<ChunkKey> = self
            .chunks
            .iter()
            .filter(|(k, c)| {
                self.options.floor.as_ref().is_none_or(|f| *f == k.floor)
                    && !self.options.hidden_layers.contains(&k.layer)
                    && !doc_hidden.is_some_and(|h| h.contains(&k.layer))
                    && c.bounds.is_some_and(|b| b.intersects(&area))
            })
            .map(|(k, _)| k.clone())
            .collect();
        Frame {
            view: *view,
            chunks: chunks.into(),
        }
    }
}

struct Out(Vec<u8>);

impl Out {
    fn u32(&mut self, n: usize) {
        // Counts in a scene are far below 2^32 (a chunk's indices are u32 already).
        self.0
            .extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn bounds(&mut self, b: Option<Bounds>) {
        match b {
            None => self.0.push(0),
            Some(b) => {
                self.0.push(1);
                for v in [b.min.x, b.min.y, b.max.x, b.max.y] {
                    self.0.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

struct In<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| RenderError::Snapshot("truncated".into()))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn count(&mut self) -> Result<usize> {
        self.u32().map(|n| n as usize)
    }

    fn i64(&mut self) -> Result<i64> {
        self.array().map(i64::from_le_bytes)
    }

    fn f64(&mut self) -> Result<f64> {
        self.array().map(f64::from_le_bytes)
    }

    fn str(&mut self) -> Result<String> {
        let n = self.count()?;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| RenderError::Snapshot("a name is not UTF-8".into()))
    }

    fn bounds(&mut self) -> Result<Option<Bounds>> {
        match self.take(1)?[0] {
            0 => Ok(None),
            1 => {
                let (a, b, c, d) = (self.f64()?, self.f64()?, self.f64()?, self.f64()?);
                Ok(Some(Bounds {
                    min: Point::new(a, b),
                    max: Point::new(c, d),
                }))
            }
            _ => Err(RenderError::Snapshot("bad bounds tag".into())),
        }
    }

    /// `count` plain values (the count first), copied out so alignment never matters.
    fn pods<T: bytemuck::Pod>(&mut self) -> Result<Vec<T>> {
        let n = self.count()?;
        let len = n
            .checked_mul(size_of::<T>())
            .ok_or_else(|| RenderError::Snapshot("a count overflows".into()))?;
        Ok(bytemuck::pod_collect_to_vec(self.take(len)?))
    }
}

#[cfg(test)]
mod tests;
