// Plan canvas shader: cached meshes (vs_mesh) and instanced symbols (vs_symbol), one
// fragment stage. Positions are plan millimetres; the globals map them to clip space.

struct Globals {
    // Plan point at the viewport centre (mm).
    center: vec2<f32>,
    // Clip units per mm on x and y (y negative: plan y points down, clip y up).
    scale: vec2<f32>,
    // Half the narrowest on-screen stroke, in mm at the current zoom.
    min_half_width_mm: f32,
    // 1.0 when the target stores sRGB (the GPU encodes on write, so we output linear).
    srgb_target: f32,
    // Half the smallest on-screen text size, in mm at the current zoom.
    min_text_half_mm: f32,
    _pad: f32,
};

@group(0) @binding(0) var<uniform> globals: Globals;

struct VertexIn {
    @location(0) position: vec2<f32>,
    @location(1) normal: vec2<f32>,
    @location(2) half_width_mm: f32,
    @location(3) color: vec4<f32>,
};

struct InstanceIn {
    @location(4) position: vec2<f32>,
    @location(5) rotation: vec2<f32>,
    @location(6) color: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec4<f32>,
};

// Strokes keep their width in mm, except that none gets thinner than the minimum on screen.
// Text vertices (negative half width) sit at their label's anchor with the glyph offset in
// `normal`, so the same formula keeps a label at its size in mm or the minimum on screen.
// Fills have a zero normal and stay where they are.
// A label that would have to grow more than `MAX_TEXT_GROWTH` times its size in mm to reach
// the minimum on screen is left out instead (collapsed onto its anchor): at that zoom labels
// would be far larger than what they name and cover each other.
const MAX_TEXT_GROWTH: f32 = 4.0;

fn extruded(v: VertexIn) -> vec2<f32> {
    let is_text = v.half_width_mm < 0.0;
    let floor_mm = select(globals.min_half_width_mm, globals.min_text_half_mm, is_text);
    if is_text && floor_mm > -v.half_width_mm * MAX_TEXT_GROWTH {
        return v.position;
    }
    let half = max(abs(v.half_width_mm), floor_mm);
    return v.position + v.normal * half;
}

fn to_clip(plan: vec2<f32>) -> vec4<f32> {
    return vec4<f32>((plan - globals.center) * globals.scale, 0.0, 1.0);
}

fn linear_from_srgb(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

fn output_color(c: vec4<f32>) -> vec4<f32> {
    if globals.srgb_target > 0.5 {
        return vec4<f32>(linear_from_srgb(c.rgb), c.a);
    }
    return c;
}

@vertex
fn vs_mesh(v: VertexIn) -> VertexOut {
    var out: VertexOut;
    out.clip = to_clip(extruded(v));
    out.color = output_color(v.color);
    return out;
}

@vertex
fn vs_symbol(v: VertexIn, inst: InstanceIn) -> VertexOut {
    let local = extruded(v);
    let c = inst.rotation.x;
    let s = inst.rotation.y;
    let placed = vec2<f32>(local.x * c - local.y * s, local.x * s + local.y * c) + inst.position;
    var out: VertexOut;
    out.clip = to_clip(placed);
    // Alpha 0 marks ink: the instance's colour. Anything else is a literal (the paper).
    let color = select(v.color, inst.color, v.color.a == 0.0);
    out.color = output_color(color);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    return in.color;
}
