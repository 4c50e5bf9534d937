//! Publishing files atomically: write under a hidden partial name, sync,
//! rename into place; on failure remove the partial file.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::OutputError;

/// Written and removed by [`probe_writable`].
pub(crate) const PROBE_NAME: &str = ".ksim-write-probe.partial";

/// `timeline.csv` -> `.timeline.partial.csv`. The extension stays last because
/// the PNG encoder picks its format from it.
pub(crate) fn partial_name(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!(".{stem}.partial.{ext}"),
        None => format!(".{name}.partial"),
    }
}

/// Removes the partial file unless disarmed, also when unwinding.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the original error is the one worth reporting.
            let _ = fs::remove_file(path);
        }
    }
}

/// Lets `write(partial, target)` produce a complete, synced file at the
/// partial path, then renames it to `dir/name`.
pub(crate) fn publish(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&Path, &Path) -> Result<(), OutputError>,
) -> Result<PathBuf, OutputError> {
    let target = dir.join(name);
    let partial = dir.join(partial_name(name));
    let mut guard = RemoveOnDrop(Some(partial.clone()));
    write(&partial, &target)?;
    fs::rename(&partial, &target).map_err(|e| OutputError::io("rename into", &target, e))?;
    guard.0 = None;
    Ok(target)
}

/// Publishes a file whose bytes `body` writes into a buffered writer.
pub(crate) fn write_file(
    dir: &Path,
    name: &str,
    body: impl FnOnce(&mut BufWriter<File>, &Path) -> Result<(), OutputError>,
) -> Result<PathBuf, OutputError> {
    publish(dir, name, |partial, target| {
        let file = File::create(partial).map_err(|e| OutputError::io("create", target, e))?;
        let mut writer = BufWriter::new(file);
        body(&mut writer, target)?;
        let file = writer
            .into_inner()
            .map_err(|e| OutputError::io("write", target, e.into_error()))?;
        file.sync_all()
            .map_err(|e| OutputError::io("sync", target, e))
    })
}

/// Syncs a file another library wrote and closed. Opened for writing
/// because some platforms refuse to sync a read-only handle.
pub(crate) fn sync_file(path: &Path, target: &Path) -> Result<(), OutputError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| OutputError::io("sync", target, e))
}

/// Makes the renames themselves durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), OutputError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| OutputError::io("sync directory", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir; // Directories cannot be opened as files here.
    Ok(())
}

pub(crate) fn probe_writable(dir: &Path) -> Result<(), OutputError> {
    let probe = dir.join(PROBE_NAME);
    let written = File::create(&probe).and_then(|mut f| f.write_all(b"ksim"));
    let removed = fs::remove_file(&probe);
    written
        .and(removed)
        .map_err(|e| OutputError::io("write into", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_keep_the_extension_last_and_are_hidden() {
        assert_eq!(partial_name("timeline.csv"), ".timeline.partial.csv");
        assert_eq!(partial_name("a.b.png"), ".a.b.partial.png");
        assert_eq!(partial_name("noext"), ".noext.partial");
    }
}
