//! The crate's one error type.

/// Everything that can go wrong setting up or running the renderer. Tessellation problems are
/// not errors: a shape lyon refuses is skipped and counted, so one bad element never blanks a
/// canvas.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The embedded label font did not parse (a broken build, not a user problem).
    #[error("the label font could not be read: {0}")]
    Font(String),
    /// No GPU adapter (hardware or software) is available.
    #[error("no GPU adapter found (install a Vulkan driver such as Mesa's lavapipe): {0}")]
    NoAdapter(String),
    /// The adapter refused to make a device.
    #[error("the GPU adapter refused to open a device: {0}")]
    Device(String),
    /// Reading the rendered image back failed.
    #[error("reading the rendered image back from the GPU failed: {0}")]
    Readback(String),
    /// A view with a zero-sized viewport, or larger than the GPU allows.
    #[error("cannot render a {width}x{height} image (limit {max} per side)")]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// The device's largest texture side.
        max: u32,
    },
    /// A scene snapshot (the editor's cached first frame) cannot be used.
    #[error("the cached drawing cannot be used: {0}")]
    Snapshot(String),
    /// PNG encoding failed.
    #[error("encoding the PNG failed: {0}")]
    Png(#[from] image::ImageError),
}

/// Result with [`RenderError`].
pub type Result<T, E = RenderError> = std::result::Result<T, E>;
