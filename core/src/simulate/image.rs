//! A create's image, resolved as Incus 6.0.4 does (`instances_post.go`, `ResolveImage`,
//! `GetImageAlias`, `GetImageByFingerprintPrefix`): a fingerprint (or a unique prefix of one)
//! wins over an alias; both are looked up in the project's image project (the `default`
//! project unless `features.images`).

use super::operation::CreateSource;
use crate::model::{Image, Project};
use crate::Snapshot;

pub(super) enum ImageLookup<'s> {
    Found(&'s Image),
    /// Incus tolerates a missing image at first (a "not found" is ignored): it fails later,
    /// see [`ImageLookup::architecture_error`] and [`NOT_PROVIDED`].
    Missing {
        /// The fingerprint (prefix) asked for; empty when an alias did not resolve.
        reference: String,
    },
}

/// The error of a create whose image is missing, once the instance has been placed (a
/// request with a member target skips the architecture lookup that fails earlier).
pub(super) const NOT_PROVIDED: &str = "Image not provided for instance creation";

impl ImageLookup<'_> {
    /// The error Incus gives when it needs the image's architecture to filter candidates
    /// (any target but a member) and the image is missing.
    pub fn architecture_error(&self) -> Option<String> {
        match self {
            ImageLookup::Found(_) => None,
            ImageLookup::Missing { reference } if reference.is_empty() => {
                Some("No fingerprint prefix specified for the image".into())
            }
            ImageLookup::Missing { .. } => Some("Image not found".into()),
        }
    }
}

pub(super) fn resolve_image<'s>(
    state: &'s Snapshot,
    project: &Project,
    source: &CreateSource,
) -> Result<ImageLookup<'s>, String> {
    let image_project = if project.restrictions().own_images {
        project.name.as_str()
    } else {
        "default"
    };
    let in_project = || state.images.iter().filter(move |i| i.project == image_project);
    if let Some(prefix) = source.image_fingerprint() {
        // SQLite's LIKE: case-insensitive for ASCII.
        let prefix = prefix.to_ascii_lowercase();
        let mut matching = in_project().filter(|i| i.fingerprint.to_ascii_lowercase().starts_with(&prefix));
        return match (matching.next(), matching.next()) {
            (Some(image), None) => Ok(ImageLookup::Found(image)),
            (Some(_), Some(_)) => Err("More than one image matches".into()),
            (None, _) => Ok(ImageLookup::Missing { reference: prefix }),
        };
    }
    if let Some(alias) = source.image_alias() {
        return Ok(
            match in_project().find(|i| i.aliases.iter().any(|a| a.name == alias)) {
                Some(image) => ImageLookup::Found(image),
                None => ImageLookup::Missing {
                    reference: String::new(),
                },
            },
        );
    }
    Err("Must specify one of alias, fingerprint or properties for init from image".into())
}
