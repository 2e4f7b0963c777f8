//! Operation "preview fetch" (seed 002): a thumbnail of an image part of an
//! object, for IMAP CONVERT (RFC 5259) and WebDAV `GET ?preview=WxH`.
//!
//! Previews are made with the `image` crate, bounded in input size and
//! decoder memory, never larger than the source image, on the blocking
//! pool and at most [`MAX_CONCURRENT_RENDERS`] at once, and cached under
//! `{data_dir}/previews/{blob}/` by part and size (see
//! `crate::preview_cache`: bounded in bytes, least recently used evicted,
//! removed with the blob). An object's content never changes, so a cached
//! preview never goes stale, and removing the file only costs a re-render.

use std::io::Cursor;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::Store;
use crate::error::{Result, StoreError};
use crate::model::{Principal, Uid};

use super::folders::FolderRef;

/// Largest image part a preview is made of, in bytes (as stored).
pub const MAX_PREVIEW_SOURCE: u64 = 64 * 1024 * 1024;
/// Largest preview width or height, in pixels.
pub const MAX_PREVIEW_DIMENSION: u32 = 2048;
/// Most memory the image decoder may allocate, in bytes.
const MAX_DECODER_ALLOC: u64 = 256 * 1024 * 1024;
/// Most previews rendered at once (each may take [`MAX_DECODER_ALLOC`]);
/// more wait their turn.
pub const MAX_CONCURRENT_RENDERS: usize = 2;

/// The permits of [`MAX_CONCURRENT_RENDERS`], shared by every store of the
/// process (they share its CPUs and memory).
static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_RENDERS);

/// The media type of a preview (RFC 5259 lets the client name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewFormat {
    /// `image/png`
    Png,
    /// `image/jpeg`
    Jpeg,
}

impl PreviewFormat {
    /// From a media type (`image/png`, `image/jpeg`), case-insensitive.
    pub fn from_media_type(media_type: &str) -> Option<PreviewFormat> {
        match media_type.to_ascii_lowercase().as_str() {
            "image/png" => Some(PreviewFormat::Png),
            "image/jpeg" | "image/jpg" => Some(PreviewFormat::Jpeg),
            _ => None,
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            PreviewFormat::Png => "image/png",
            PreviewFormat::Jpeg => "image/jpeg",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            PreviewFormat::Png => "png",
            PreviewFormat::Jpeg => "jpg",
        }
    }
}

/// What to make a preview of, and how big.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// The IMAP section part numbers of the image (RFC 3501 6.4.5); empty
    /// for the object's whole body (a single-part media object).
    pub part: Vec<u32>,
    /// Largest width, in pixels (1 to [`MAX_PREVIEW_DIMENSION`]).
    pub width: u32,
    /// Largest height, in pixels (1 to [`MAX_PREVIEW_DIMENSION`]).
    pub height: u32,
    /// The format wanted; `None` keeps PNG for PNG sources and makes JPEG
    /// otherwise.
    pub format: Option<PreviewFormat>,
}

/// A preview: the image fits in the requested box, keeping its aspect
/// ratio, and is never larger than the source image (a box larger than the
/// image gets the image's own size).
#[derive(Debug, Clone)]
pub struct Preview {
    /// Its format.
    pub format: PreviewFormat,
    /// Its encoded bytes.
    pub bytes: Vec<u8>,
}

pub use crate::section::find_part;

impl Store {
    /// Operation "preview fetch": a thumbnail of an image part.
    ///
    /// Rights: `r`. Errors: those of [`Store::fetch_object`];
    /// [`StoreError::InvalidArgument`] for a missing part or a size out of
    /// range; [`StoreError::Unconvertible`] for a part that is not a
    /// decodable PNG, JPEG or GIF image or is over [`MAX_PREVIEW_SOURCE`].
    pub async fn preview(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
        request: &PreviewRequest,
    ) -> Result<Preview> {
        let in_range = |d: u32| (1..=MAX_PREVIEW_DIMENSION).contains(&d);
        if !in_range(request.width) || !in_range(request.height) {
            return Err(StoreError::InvalidArgument(format!(
                "preview size must be 1 to {MAX_PREVIEW_DIMENSION} pixels"
            )));
        }
        let (object, summary) = self.fetch_object(principal, folder, uid).await?;
        let part = find_part(&summary.body, &request.part)
            .ok_or_else(|| StoreError::InvalidArgument("no such body part".into()))?
            .clone();
        if part.media_type != "image" {
            return Err(StoreError::Unconvertible(format!(
                "{}/{} is not an image",
                part.media_type, part.media_subtype
            )));
        }
        let format = request.format.unwrap_or(if part.media_subtype == "png" {
            PreviewFormat::Png
        } else {
            PreviewFormat::Jpeg
        });
        let blob = object.blob;
        let cached = self.inner.blobs.previews().path(
            &blob,
            &format!(
                "{}-{}x{}.{}",
                part.body_start,
                request.width,
                request.height,
                format.extension()
            ),
        );
        let store = self.clone();
        let lookup = cached.clone();
        let hit = tokio::task::spawn_blocking(move || store.inner.blobs.previews().get(&lookup))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let Some(bytes) = hit {
            return Ok(Preview { format, bytes });
        }
        if part.size() > MAX_PREVIEW_SOURCE {
            return Err(StoreError::Unconvertible("the image is too large".into()));
        }
        // The render slot is taken before the source is read, so requests
        // waiting for one hold no image bytes.
        let permit = RENDERS.acquire().await.map_err(|_| StoreError::Closed)?;
        let mut file = self.open_blob(&object).await?;
        file.seek(std::io::SeekFrom::Start(part.body_start)).await?;
        let mut raw = Vec::with_capacity(part.size() as usize);
        file.take(part.size()).read_to_end(&mut raw).await?;
        let encoding = part.encoding.clone().unwrap_or_default();
        let (width, height) = (request.width, request.height);
        let store = self.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            // Held until the render ends, even if the request is dropped.
            let _permit = permit;
            let bytes = render(raw, &encoding, width, height, format)?;
            let blobs = &store.inner.blobs;
            // Kept only while its blob is: a small one kept in the
            // database has no file, and its previews are not cached.
            blobs
                .previews()
                .put(&blob, &cached, &bytes, || blobs.path(&blob).exists());
            Ok::<_, StoreError>(bytes)
        })
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        Ok(Preview { format, bytes })
    }
}

/// Decodes the transfer encoding and the image, scales it to fit
/// `width`x`height`, and encodes it as `format`.
fn render(
    raw: Vec<u8>,
    encoding: &str,
    width: u32,
    height: u32,
    format: PreviewFormat,
) -> Result<Vec<u8>> {
    let bytes = if encoding.eq_ignore_ascii_case("base64") {
        let compact: Vec<u8> = raw
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| StoreError::Unconvertible("bad base64 content".into()))?
    } else {
        raw
    };
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| StoreError::Unconvertible(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| StoreError::Unconvertible(e.to_string()))?;
    // Never upscale: a box larger than the image is the image's size.
    let thumb = image.thumbnail(width.min(image.width()), height.min(image.height()));
    let mut out = Cursor::new(Vec::new());
    let written = match format {
        PreviewFormat::Png => thumb.write_to(&mut out, image::ImageFormat::Png),
        PreviewFormat::Jpeg => image::DynamicImage::ImageRgb8(thumb.to_rgb8())
            .write_to(&mut out, image::ImageFormat::Jpeg),
    };
    written.map_err(|e| StoreError::Unconvertible(e.to_string()))?;
    Ok(out.into_inner())
}
