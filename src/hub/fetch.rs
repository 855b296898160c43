//! Fetching a URL into a file while hashing it (with the `download` feature, through
//! ureq), reporting progress to the observer of [`on_download`](super::on_download).

use std::path::Path;

use crate::{Error, Result};

/// Without the `download` feature nothing is fetched.
#[cfg(not(feature = "download"))]
pub(super) fn fetch_to(url: &str, _path: &Path, dest: &Path) -> Result<String> {
    Err(Error::Download(format!(
        "cannot fetch {url}: this build has no downloader (the `download` feature is off); put the file at {}",
        dest.display()
    )))
}

/// Streams `url` into a new file at `path` (on its way to `dest`), returning the body's
/// sha256 in lowercase hex.
#[cfg(feature = "download")]
pub(super) fn fetch_to(url: &str, path: &Path, dest: &Path) -> Result<String> {
    use std::fs::File;
    use std::io::{Read, Write};
    use std::time::Duration;

    use sha2::{Digest, Sha256};

    use super::DownloadEvent;

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => {
            Error::Download(format!("GET {url}: the server answered HTTP {code}"))
        }
        other => Error::Download(format!("GET {url}: {other}")),
    })?;
    let body = response.into_body();
    report(DownloadEvent::Started {
        url,
        dest,
        bytes: body.content_length(),
    });
    let mut received = 0;
    let mut reader = body.into_reader();
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|e| Error::Download(format!("GET {url}: reading the body failed: {e}")))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        file.write_all(&buffer[..read])
            .map_err(|e| Error::io(path, e))?;
        received += read as u64;
        report(DownloadEvent::Progress { url, received });
    }
    file.sync_all().map_err(|e| Error::io(path, e))?;
    report(DownloadEvent::Finished { url });
    Ok(format!("{:x}", hasher.finalize()))
}

/// Hands `event` to the observer, if one is set.
#[cfg(feature = "download")]
fn report(event: super::DownloadEvent) {
    let observer = super::OBSERVER
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(observer) = observer {
        observer(&event);
    }
}
