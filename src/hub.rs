//! Model resolution by name: manifest, search path, download with checksum.
//!
//! `weights/manifest.json` (compiled in) lists every known model file (TFLite or ONNX) with
//! its sha256 and a pinned public URL. [`resolve`] turns a model name into local files: an existing path is used
//! as is; a name is looked up in the manifest and its file searched in
//! `$MOBILENET_WGPU_MODELS`, then the user cache
//! (`<cache dir>/mobilenet-wgpu`). A file found nowhere is downloaded into the cache; the
//! download is hashed while it is written to a temporary file and only renamed into place when
//! the hash matches, so the cache never holds a truncated or tampered model. Downloads
//! print nothing: they report to the observer set with [`on_download`] (the CLI draws a
//! progress bar from it).

mod fetch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::{Error, Result};
use fetch::fetch_to;

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "mobilenet_v2_1.0_224_quant";

/// Environment variable naming an extra folder searched first for model files.
pub const MODELS_DIR_ENV: &str = "MOBILENET_WGPU_MODELS";

/// Environment variable that, set to `1` or `true`, forbids downloads.
pub const OFFLINE_ENV: &str = "MOBILENET_WGPU_OFFLINE";

/// What a download reports while it runs, to the observer set with [`on_download`].
#[derive(Clone, Copy, Debug)]
pub enum DownloadEvent<'a> {
    /// The server answered; `bytes` is the body's length when it said.
    Started {
        url: &'a str,
        dest: &'a Path,
        bytes: Option<u64>,
    },
    /// `received` bytes of the body so far.
    Progress { url: &'a str, received: u64 },
    /// The body is complete (its checksum is checked next).
    Finished { url: &'a str },
}

type Observer = Arc<dyn Fn(&DownloadEvent) + Send + Sync>;

static OBSERVER: RwLock<Option<Observer>> = RwLock::new(None);

/// Sets the function every download in this process reports to (replacing any earlier
/// one). Without one, downloads are silent.
pub fn on_download(observer: impl Fn(&DownloadEvent) + Send + Sync + 'static) {
    let mut slot = OBSERVER.write().unwrap_or_else(|p| p.into_inner());
    *slot = Some(Arc::new(observer));
}

const MANIFEST_JSON: &str = include_str!("../weights/manifest.json");

/// A model's input image size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct InputSize {
    pub width: usize,
    pub height: usize,
}

/// One downloadable model file.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ManifestEntry {
    /// The file stem, used as the model's name.
    pub name: String,
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// `mobilenet_v1`, `mobilenet_v2`, `mobilenet_v3_small` or `mobilenet_v3_large_minimalistic`.
    pub architecture: String,
    pub width_multiplier: f32,
    pub input: InputSize,
    /// Pinned (commit-addressed) public URL of the exact file.
    pub source_url: String,
    /// File size in bytes.
    pub size: u64,
}

/// A model that ships as several files run one after another (e.g. the split V1 1.0/224).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Composite {
    pub name: String,
    /// Entry names, in execution order.
    pub parts: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    default: String,
    models: Vec<ManifestEntry>,
    composites: Vec<Composite>,
}

fn parse_manifest() -> Result<Manifest> {
    serde_json::from_str(MANIFEST_JSON).map_err(|e| Error::Model {
        path: PathBuf::from("weights/manifest.json"),
        reason: format!("built-in manifest is invalid: {e}"),
    })
}

/// Every model file in the built-in manifest.
pub fn manifest() -> Result<Vec<ManifestEntry>> {
    Ok(parse_manifest()?.models)
}

/// The multi-file models of the built-in manifest.
pub fn composites() -> Result<Vec<Composite>> {
    Ok(parse_manifest()?.composites)
}

/// The model the manifest marks as default (equal to [`DEFAULT_MODEL`]).
pub fn manifest_default() -> Result<String> {
    Ok(parse_manifest()?.default)
}

/// The manifest entries a name stands for: one for a plain model, several for a composite.
pub fn lookup(name: &str) -> Result<Vec<ManifestEntry>> {
    let manifest = parse_manifest()?;
    let find = |wanted: &str| manifest.models.iter().find(|m| m.name == wanted).cloned();
    if let Some(entry) = find(name) {
        return Ok(vec![entry]);
    }
    if let Some(composite) = manifest.composites.iter().find(|c| c.name == name) {
        return composite
            .parts
            .iter()
            .map(|part| find(part).ok_or_else(|| unknown_model(part, &manifest)))
            .collect();
    }
    Err(unknown_model(name, &manifest))
}

fn unknown_model(name: &str, manifest: &Manifest) -> Error {
    let names: Vec<&str> = manifest
        .models
        .iter()
        .map(|m| m.name.as_str())
        .chain(manifest.composites.iter().map(|c| c.name.as_str()))
        .collect();
    Error::InvalidArgument(format!(
        "`{name}` is neither an existing file nor a known model. Known models: {}",
        names.join(", ")
    ))
}

/// Where [`resolve_in`] looks for model files and whether it may download.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPath {
    /// Folders searched in order for a model's file name.
    pub dirs: Vec<PathBuf>,
    /// Folder downloads are stored in; `None` disables downloading.
    pub cache: Option<PathBuf>,
}

impl SearchPath {
    /// `$MOBILENET_WGPU_MODELS`, then `<user cache>/mobilenet-wgpu`, which also receives
    /// downloads unless `$MOBILENET_WGPU_OFFLINE` is `1` or `true`. (No folder of the machine
    /// the library was built on: a binary must not look there.)
    pub fn from_env() -> Self {
        let env_dir = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty());
        let cache = dirs::cache_dir().map(|d| d.join("mobilenet-wgpu"));
        let dirs = env_dir
            .map(PathBuf::from)
            .into_iter()
            .chain(cache.clone())
            .collect();
        let offline = std::env::var(OFFLINE_ENV).is_ok_and(|v| v == "1" || v == "true");
        SearchPath {
            dirs,
            cache: cache.filter(|_| !offline),
        }
    }
}

/// Local files for a model path or name, using [`SearchPath::from_env`]. Downloads missing
/// files.
pub fn resolve(name_or_path: &str) -> Result<Vec<PathBuf>> {
    resolve_in(&SearchPath::from_env(), name_or_path)
}

/// Local files for a model path or name: an existing file is returned as is; a manifest name
/// gives one path per part, found in `search.dirs` or downloaded into `search.cache`.
pub fn resolve_in(search: &SearchPath, name_or_path: &str) -> Result<Vec<PathBuf>> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(vec![as_path.to_path_buf()]);
    }
    let entries = match lookup(name_or_path) {
        Ok(entries) => entries,
        Err(_) if looks_like_path(name_or_path) => {
            let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such model file");
            return Err(Error::io(as_path, missing));
        }
        Err(unknown) => return Err(unknown),
    };
    entries
        .iter()
        .map(|entry| locate_or_download(search, entry))
        .collect()
}

fn looks_like_path(text: &str) -> bool {
    text.contains(std::path::MAIN_SEPARATOR)
        || text.contains('/')
        || text.ends_with(".tflite")
        || text.ends_with(".onnx")
}

fn locate_or_download(search: &SearchPath, entry: &ManifestEntry) -> Result<PathBuf> {
    if let Some(found) = search
        .dirs
        .iter()
        .map(|d| d.join(&entry.file))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let Some(cache) = &search.cache else {
        return Err(Error::Download(format!(
            "model file `{}` not found and downloads are disabled. {}",
            entry.file,
            placement_hint(search, entry)
        )));
    };
    let dest = cache.join(&entry.file);
    download_verified(&entry.source_url, &entry.sha256, &dest).map_err(|e| {
        // Unwrap our own Download message so it is not prefixed twice.
        let cause = match e {
            Error::Download(message) => message,
            other => other.to_string(),
        };
        Error::Download(format!(
            "{cause}\nCould not get model `{}`. {}",
            entry.name,
            placement_hint(search, entry)
        ))
    })?;
    Ok(dest)
}

/// Tells the user exactly which file to put where to work offline.
fn placement_hint(search: &SearchPath, entry: &ManifestEntry) -> String {
    let dirs: Vec<String> = search
        .dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(
        "Download {} (sha256 {}) and save it as `{}` in one of: {} (or set {MODELS_DIR_ENV} to its folder).",
        entry.source_url,
        entry.sha256,
        entry.file,
        dirs.join(", ")
    )
}

/// Downloads `url` to `dest`, checking that its sha256 is `sha256` (hex) before `dest` appears.
/// The body goes to a temporary file beside `dest`, which is deleted on any failure.
pub fn download_verified(url: &str, sha256: &str, dest: &Path) -> Result<()> {
    let folder = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    let file_name = dest
        .file_name()
        .map_or_else(|| "download".into(), |n| n.to_string_lossy());
    let temp = folder.join(format!(".{file_name}.{}.part", std::process::id()));
    let result = fetch_to(url, &temp, dest).and_then(|actual| {
        if actual.eq_ignore_ascii_case(sha256) {
            std::fs::rename(&temp, dest).map_err(|e| Error::io(dest, e))
        } else {
            Err(Error::Download(format!(
                "checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; the download was deleted"
            )))
        }
    });
    if result.is_err() {
        // Best effort: the temp file may not exist if the request itself failed.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_and_names_the_default() {
        let models = manifest().expect("built-in manifest");
        assert_eq!(models.len(), 14);
        assert_eq!(manifest_default().expect("default"), DEFAULT_MODEL);
        let default = lookup(DEFAULT_MODEL).expect("default is listed");
        assert_eq!(
            default[0].input,
            InputSize {
                width: 224,
                height: 224
            }
        );
    }

    #[test]
    fn entries_are_consistent() {
        for entry in manifest().expect("built-in manifest") {
            let extension = entry.file.rsplit_once('.').map(|(_, e)| e);
            assert!(
                matches!(extension, Some("tflite" | "onnx")),
                "{}",
                entry.file
            );
            assert_eq!(
                entry.file.rsplit_once('.').map(|(n, _)| n),
                Some(&*entry.name)
            );
            assert_eq!(entry.sha256.len(), 64);
            assert!(entry
                .sha256
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            assert!(entry
                .source_url
                .starts_with("https://raw.githubusercontent.com/"));
            assert!(entry.size > 100_000);
        }
    }

    #[test]
    fn composite_resolves_to_its_parts_in_order() {
        let parts = lookup("mobilenet_v1_1.0_224_quant").expect("composite");
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mobilenet_v1_1.0_224_quant_embedding_extractor",
                "mobilenet_v1_1.0_224_quant_head_layers"
            ]
        );
    }

    /// Without the `download` feature a missing model is an error saying so, and no file
    /// appears (`cargo test --no-default-features --lib` runs this).
    #[cfg(not(feature = "download"))]
    #[test]
    fn without_the_download_feature_nothing_is_fetched() {
        let dest = std::env::temp_dir().join(format!("no-download-{}", std::process::id()));
        let err = download_verified("https://example.invalid/m.tflite", "00", &dest)
            .expect_err("no downloader");
        assert!(
            err.to_string().contains("`download` feature is off"),
            "{err}"
        );
        assert!(!dest.exists());
    }
}
