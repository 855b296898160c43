//! The images `classify` reads: files as given, folders walked recursively for the formats
//! we decode, and their preprocessing spread over worker threads.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::{preprocess, Error};

/// File extensions a folder walk picks up (compared without case).
const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// What a walk over `classify`'s arguments found.
pub struct Collected {
    /// Every image the arguments name, in order.
    pub images: Vec<PathBuf>,
    /// Folders (or entries) that could not be read, and why: failures of their own, which
    /// do not stop the walk.
    pub unreadable: Vec<(PathBuf, Error)>,
}

/// Every image `paths` names, in order: a file as given (whatever its name: decoding
/// decides), a folder's images recursively, sorted by path. Links to files are followed,
/// links to folders are not (they could loop).
pub fn collect(paths: &[PathBuf]) -> Collected {
    let mut collected = Collected {
        images: Vec::new(),
        unreadable: Vec::new(),
    };
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut collected.unreadable);
            found.sort();
            collected.images.extend(found);
        } else {
            collected.images.push(path.clone());
        }
    }
    collected
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, unreadable: &mut Vec<(PathBuf, Error)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return unreadable.push(failure(dir, e)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                unreadable.push(failure(dir, e));
                continue;
            }
        };
        let path = entry.path();
        // The entry's own type, not its target's: a link to a parent folder would loop.
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(&path, found, unreadable),
            Ok(kind) if is_image_name(&path) && !(kind.is_symlink() && path.is_dir()) => {
                found.push(path)
            }
            Ok(_) => {}
            Err(e) => unreadable.push(failure(&path, e)),
        }
    }
}

fn failure(path: &Path, e: std::io::Error) -> (PathBuf, Error) {
    (path.to_path_buf(), Error::io(path, e))
}

fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// One image, decoded and preprocessed for the model, or why it could not be.
pub struct Prepared {
    pub path: PathBuf,
    pub input: std::result::Result<Vec<f32>, Error>,
    pub preprocess_ms: f64,
}

/// Decodes and preprocesses `paths` on up to `threads` worker threads, keeping their order.
pub fn prepare(model: &Model, paths: &[PathBuf], threads: usize) -> Vec<Prepared> {
    let per_thread = paths.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|p| prepare_one(model, p))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .zip(paths.chunks(per_thread))
            .flat_map(|(worker, chunk)| {
                worker
                    .join()
                    .unwrap_or_else(|_| failed(chunk, "the decoding thread panicked"))
            })
            .collect()
    })
}

/// `paths`, each failed for `reason`.
pub fn failed(paths: &[PathBuf], reason: &str) -> Vec<Prepared> {
    paths
        .iter()
        .map(|path| Prepared {
            path: path.clone(),
            input: Err(Error::Image {
                path: path.clone(),
                reason: reason.into(),
            }),
            preprocess_ms: 0.0,
        })
        .collect()
}

fn prepare_one(model: &Model, path: &Path) -> Prepared {
    let start = Instant::now();
    let input =
        preprocess::load_image(path).and_then(|image| preprocess::preprocess_for(model, &image));
    Prepared {
        path: path.to_path_buf(),
        input,
        preprocess_ms: start.elapsed().as_secs_f64() * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link back to a parent folder is not followed (it would recurse forever); a link
    /// to an image is.
    #[cfg(unix)]
    #[test]
    fn links_to_folders_are_not_walked() {
        let root = std::env::temp_dir().join(format!("walk-links-{}", std::process::id()));
        let inner = root.join("inner");
        std::fs::create_dir_all(&inner).expect("folders");
        std::fs::write(inner.join("a.png"), b"x").expect("file");
        std::os::unix::fs::symlink(&root, inner.join("loop")).expect("folder link");
        std::os::unix::fs::symlink(inner.join("a.png"), root.join("b.PNG")).expect("file link");
        let found = collect(std::slice::from_ref(&root));
        std::fs::remove_dir_all(&root).ok();
        assert_eq!(found.images, [root.join("b.PNG"), inner.join("a.png")]);
        assert!(found.unreadable.is_empty());
    }

    /// A folder that cannot be read is a failure of its own; the rest is still walked.
    #[cfg(unix)]
    #[test]
    fn an_unreadable_folder_does_not_stop_the_walk() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("walk-unreadable-{}", std::process::id()));
        let (locked, open) = (root.join("a_locked"), root.join("b_open"));
        std::fs::create_dir_all(&locked).expect("folders");
        std::fs::create_dir_all(&open).expect("folders");
        std::fs::write(open.join("x.jpg"), b"x").expect("file");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        let readable_anyway = std::fs::read_dir(&locked).is_ok(); // root reads everything
        let found = collect(std::slice::from_ref(&root));
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).ok();
        std::fs::remove_dir_all(&root).ok();
        assert_eq!(found.images, [open.join("x.jpg")]);
        if !readable_anyway {
            assert_eq!(found.unreadable.len(), 1);
            assert_eq!(found.unreadable[0].0, locked);
        }
    }
}
