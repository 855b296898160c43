//! Model resolution and verified downloads, against a tiny local HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mobilenet_wgpu::hub::{
    self, DownloadEvent, SearchPath, DEFAULT_MODEL, MODELS_DIR_ENV, OFFLINE_ENV,
};
use mobilenet_wgpu::Error;
use sha2::{Digest, Sha256};

const GOOD_BODY: &[u8] = b"pretend this is a TFLite flatbuffer";

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Serves `/good` (GOOD_BODY), `/corrupt` (GOOD_BODY with one byte changed) and 404 for
/// anything else, one HTTP/1.1 response per connection. Returns the base URL.
fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A failed exchange only fails the test that made it.
            let _ = answer(stream);
        }
    });
    base
}

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let mut corrupt = GOOD_BODY.to_vec();
    corrupt[3] ^= 0x20;
    let (status, body) = match path {
        "/good" => ("200 OK", GOOD_BODY.to_vec()),
        "/corrupt" => ("200 OK", corrupt),
        _ => ("404 Not Found", b"not here".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    stream.flush()
}

/// A fresh, empty directory unique to one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("mobilenet-wgpu-hub-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn good_download_is_verified_and_lands_at_destination() {
    let base = start_server();
    let dir = temp_dir("good");
    let dest = dir.join("nested").join("model.tflite");
    let url = format!("{base}/good");
    // Other tests download concurrently: keep only this URL's events.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (record, wanted) = (Arc::clone(&seen), url.clone());
    hub::on_download(move |event| {
        let (DownloadEvent::Started { url, .. }
        | DownloadEvent::Progress { url, .. }
        | DownloadEvent::Finished { url }) = *event;
        if url == wanted {
            record.lock().unwrap().push(format!("{event:?}"));
        }
    });
    hub::download_verified(&url, &sha256_hex(GOOD_BODY), &dest).expect("download");
    let seen = seen.lock().unwrap().clone();
    let length = GOOD_BODY.len();
    assert!(
        seen.first()
            .is_some_and(|e| e.contains(&format!("bytes: Some({length})"))),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| e.contains(&format!("received: {length}"))),
        "{seen:?}"
    );
    assert!(
        seen.last().is_some_and(|e| e.starts_with("Finished")),
        "{seen:?}"
    );
    assert_eq!(std::fs::read(&dest).expect("downloaded file"), GOOD_BODY);
    assert_eq!(
        files_in(&dir.join("nested")),
        ["model.tflite"],
        "no temp files left behind"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupted_download_is_rejected_and_deleted() {
    let base = start_server();
    let dir = temp_dir("corrupt");
    let dest = dir.join("model.tflite");
    let expected = sha256_hex(GOOD_BODY);
    let err =
        hub::download_verified(&format!("{base}/corrupt"), &expected, &dest).expect_err("bad hash");
    let message = err.to_string();
    assert!(matches!(err, Error::Download(_)), "{err:?}");
    assert!(
        message.contains("checksum mismatch") && message.contains(&expected),
        "{message}"
    );
    let mut corrupt = GOOD_BODY.to_vec();
    corrupt[3] ^= 0x20;
    assert!(
        message.contains(&sha256_hex(&corrupt)),
        "actual hash reported: {message}"
    );
    assert!(
        files_in(&dir).is_empty(),
        "left behind: {:?}",
        files_in(&dir)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn http_404_is_a_clear_download_error() {
    let base = start_server();
    let dir = temp_dir("404");
    let dest = dir.join("model.tflite");
    let url = format!("{base}/missing");
    let err = hub::download_verified(&url, &sha256_hex(GOOD_BODY), &dest).expect_err("404");
    let message = err.to_string();
    assert!(
        message.contains("404") && message.contains(&url),
        "{message}"
    );
    assert!(files_in(&dir).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unreachable_server_is_a_download_error_naming_the_url() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/model");
    let dir = temp_dir("refused");
    let err =
        hub::download_verified(&url, &sha256_hex(GOOD_BODY), &dir.join("m")).expect_err("refused");
    assert!(
        matches!(&err, Error::Download(m) if m.contains(&url)),
        "{err:?}"
    );
    assert!(files_in(&dir).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_name_lists_known_models() {
    let search = SearchPath {
        dirs: vec![],
        cache: None,
    };
    let message = hub::resolve_in(&search, "mobilenet_v9")
        .expect_err("unknown")
        .to_string();
    assert!(message.contains("mobilenet_v9"), "{message}");
    assert!(
        message.contains(DEFAULT_MODEL) && message.contains("mobilenet_v3_small_1.0_224_quant"),
        "{message}"
    );
}

#[test]
fn existing_path_resolves_to_itself_and_missing_path_is_not_found() {
    let dir = temp_dir("path");
    let file = dir.join("custom.tflite");
    std::fs::write(&file, b"x").expect("write");
    let search = SearchPath {
        dirs: vec![],
        cache: None,
    };
    let given = file.to_string_lossy().into_owned();
    assert_eq!(
        hub::resolve_in(&search, &given).expect("existing file"),
        vec![file.clone()]
    );
    let missing = dir.join("absent.tflite").to_string_lossy().into_owned();
    let err = hub::resolve_in(&search, &missing).expect_err("missing");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn names_resolve_in_search_dirs_in_order() {
    let first = temp_dir("order-first");
    let second = temp_dir("order-second");
    let file = format!("{DEFAULT_MODEL}.tflite");
    std::fs::write(second.join(&file), b"second").expect("write");
    let search = SearchPath {
        dirs: vec![first.clone(), second.clone()],
        cache: None,
    };
    assert_eq!(
        hub::resolve_in(&search, DEFAULT_MODEL).expect("found"),
        vec![second.join(&file)]
    );
    std::fs::write(first.join(&file), b"first").expect("write");
    assert_eq!(
        hub::resolve_in(&search, DEFAULT_MODEL).expect("found"),
        vec![first.join(&file)]
    );

    let extractor = "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
    let head = "mobilenet_v1_1.0_224_quant_head_layers.tflite";
    std::fs::write(first.join(extractor), b"a").expect("write");
    std::fs::write(second.join(head), b"b").expect("write");
    let parts = hub::resolve_in(&search, "mobilenet_v1_1.0_224_quant").expect("composite");
    assert_eq!(parts, vec![first.join(extractor), second.join(head)]);
    std::fs::remove_dir_all(&first).ok();
    std::fs::remove_dir_all(&second).ok();
}

#[test]
fn missing_model_without_downloads_says_what_to_put_where() {
    let dir = temp_dir("offline");
    let search = SearchPath {
        dirs: vec![dir.clone()],
        cache: None,
    };
    let err = hub::resolve_in(&search, "mobilenet_v1_0.25_128_quant").expect_err("not found");
    let message = err.to_string();
    assert!(matches!(err, Error::Download(_)), "{err:?}");
    for needle in [
        "mobilenet_v1_0.25_128_quant.tflite",
        &dir.display().to_string(),
        "https://raw.githubusercontent.com/google-coral/test_data/",
        MODELS_DIR_ENV,
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The only test that touches the process environment (tests run in parallel threads).
#[test]
fn environment_configures_the_search_path() {
    let dir = temp_dir("env");
    let file = dir.join(format!("{DEFAULT_MODEL}.tflite"));
    std::fs::write(&file, b"model").expect("write");
    std::env::set_var(MODELS_DIR_ENV, &dir);
    std::env::set_var(OFFLINE_ENV, "1");
    let search = SearchPath::from_env();
    let resolved = hub::resolve(DEFAULT_MODEL);
    std::env::remove_var(MODELS_DIR_ENV);
    std::env::remove_var(OFFLINE_ENV);
    assert_eq!(search.dirs.first(), Some(&dir));
    // Nothing of the build machine's checkout is searched.
    let build_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        !search.dirs.iter().any(|d| d.starts_with(build_dir)),
        "{search:?}"
    );
    assert_eq!(search.cache, None, "offline disables downloads");
    assert_eq!(resolved.expect("found via env dir"), vec![file]);
    assert!(SearchPath::from_env().cache.is_some() || dirs::cache_dir().is_none());
    std::fs::remove_dir_all(&dir).ok();
}

/// The manifest's hashes and sizes must describe the real files in `../shared/models`.
#[test]
fn manifest_matches_the_shared_model_files() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if !shared.is_dir() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{} missing in CI",
            shared.display()
        );
        eprintln!("skipped: {} not found", shared.display());
        return;
    }
    for entry in hub::manifest().expect("manifest") {
        let bytes = std::fs::read(shared.join(&entry.file))
            .unwrap_or_else(|e| panic!("{}: {e}", entry.file));
        assert_eq!(bytes.len() as u64, entry.size, "{}", entry.file);
        assert_eq!(sha256_hex(&bytes), entry.sha256, "{}", entry.file);
    }
}
