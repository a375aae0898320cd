//! Decoding the kept images (in parallel) into planar 8-bit pixels of one common size.

use image::{DynamicImage, ImageFormat};
use rayon::prelude::*;

use super::layout::Member;
use super::tree::FileTree;
use crate::error::{KdnasError, Result};

/// JPEG end-of-image marker.
const JPEG_EOI: [u8; 2] = [0xFF, 0xD9];
/// Code of the JPEG start-of-scan marker (0xFF 0xDA).
const JPEG_SOS: u8 = 0xDA;

/// Decodes every member, in parallel; the first failure in `members` order is returned.
///
/// Fails with [`KdnasError::Data`] naming the file when it cannot be decoded or is truncated.
pub(super) fn decode_all(tree: &FileTree, members: &[Member<'_>]) -> Result<Vec<DynamicImage>> {
    let decoded: Vec<Result<DynamicImage>> = members.par_iter().map(|m| decode(tree, m)).collect();
    decoded.into_iter().collect()
}

/// Decodes one image; the format is taken from the content, or from the extension when the
/// content is not recognised.
fn decode(tree: &FileTree, member: &Member<'_>) -> Result<DynamicImage> {
    let bytes = tree.read_file(&member.rel, member.content)?;
    let name = member.rel.last().copied().unwrap_or_default();
    let extension = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default();
    let data_error = |message: String| KdnasError::Data { path: tree.display(&member.rel), message };
    let format = image::guess_format(&bytes)
        .ok()
        .or_else(|| ImageFormat::from_extension(extension))
        .ok_or_else(|| data_error("not a PNG or JPEG image".into()))?;
    if format == ImageFormat::Jpeg && jpeg_is_truncated(&bytes) {
        return Err(data_error("truncated JPEG: the image data has no end-of-image marker".into()));
    }
    image::load_from_memory_with_format(&bytes, format)
        .map_err(|e| data_error(format!("cannot decode the {} image: {e}", format.to_mime_type())))
}

/// Whether a JPEG stream has a scan without an end-of-image marker after it.
///
/// The `image` crate decodes JPEGs leniently (a truncated file comes back with its missing part
/// filled in), so truncation is checked here: the marker segments are walked up to the first
/// start-of-scan (skipping embedded thumbnails, which live inside them), then an end-of-image
/// marker must follow (inside entropy-coded data a 0xFF byte is followed by 0x00, never by a
/// marker code). A stream that cannot be walked is left to the decoder to reject.
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let mut at = 2; // after the start-of-image marker
    while let Some(&[0xFF, marker, high, low]) = bytes.get(at..at + 4) {
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let end = at + 2 + usize::from(u16::from_be_bytes([high, low]));
        if marker == JPEG_SOS {
            return !bytes.get(end..).is_some_and(|scan| scan.windows(2).any(|w| w == JPEG_EOI));
        }
        at = end;
    }
    false
}

/// Checks that every image has the size of `first` (the first training image), naming the
/// first file that differs.
pub(super) fn check_sizes(
    tree: &FileTree,
    first: (&Member<'_>, &DynamicImage),
    images: &[(&[Member<'_>], &[DynamicImage])],
) -> Result<()> {
    let (first_member, first_image) = first;
    let size = (first_image.width(), first_image.height());
    for (members, decoded) in images {
        if let Some((member, image)) =
            members.iter().zip(decoded.iter()).find(|(_, image)| (image.width(), image.height()) != size)
        {
            return Err(KdnasError::Data {
                path: tree.display(&member.rel),
                message: format!(
                    "the image is {}x{} but {} is {}x{}; all images must have the same size",
                    image.width(),
                    image.height(),
                    tree.display(&first_member.rel).display(),
                    size.0,
                    size.1
                ),
            });
        }
    }
    Ok(())
}

/// Whether no image has colour (all are grayscale, with or without alpha).
pub(super) fn all_grayscale(images: &[&[DynamicImage]]) -> bool {
    images.iter().flat_map(|set| set.iter()).all(|image| !image.color().has_color())
}

/// Converts the images to 8-bit planar pixels, `[n, channels, height * width]` with 1 channel
/// (luma) when `grayscale`, else 3 (RGB; alpha is dropped).
pub(super) fn planar_pixels(images: Vec<DynamicImage>, grayscale: bool) -> Vec<u8> {
    let planes: Vec<Vec<u8>> = images.into_par_iter().map(|image| planar(image, grayscale)).collect();
    planes.concat()
}

/// One image as `[channels, height * width]` bytes.
fn planar(image: DynamicImage, grayscale: bool) -> Vec<u8> {
    if grayscale {
        return image.into_luma8().into_raw();
    }
    let rgb = image.into_rgb8().into_raw(); // [height * width, 3]
    let mut out = Vec::with_capacity(rgb.len());
    for channel in 0..3 {
        out.extend(rgb.iter().skip(channel).step_by(3));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::jpeg_is_truncated;

    /// Start of image, an APP1 segment holding a thumbnail's scan and end markers, a start of scan
    /// (length 3: one parameter byte), entropy-coded bytes with a stuffed 0xFF, then `tail`.
    fn jpeg(tail: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xDA, 0xFF, 0xD9];
        bytes.extend([0xFF, 0xDA, 0x00, 0x03, 0x01, 0x12, 0xFF, 0x00, 0x34]);
        bytes.extend(tail);
        bytes
    }

    #[test]
    fn truncation_is_judged_after_the_first_real_scan() {
        assert!(!jpeg_is_truncated(&jpeg(&[0xFF, 0xD9])));
        assert!(!jpeg_is_truncated(&jpeg(&[0xFF, 0xD9, 0, 0])), "bytes after the end are allowed");
        assert!(jpeg_is_truncated(&jpeg(&[])), "the thumbnail's end marker does not count");
        assert!(jpeg_is_truncated(&jpeg(&[])[..14]), "cut inside the scan header");
        assert!(!jpeg_is_truncated(&[0xFF, 0xD8, 0x12, 0x34, 0x56, 0x78]), "left to the decoder");
    }
}
