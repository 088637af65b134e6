//! Local files: canonicalised, confined to a directory, regular files only (never `/proc`, `/sys`,
//! `/dev`), read on a blocking thread up to the byte limit.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Policy, Refused};

const SYSTEM_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Whether a canonical path is in a directory whose files are not data (`/proc`, `/sys`, `/dev`).
pub(super) fn is_system(path: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|d| path.starts_with(d))
}

impl Policy {
    /// The canonical form of `path`, when it is a regular file inside `within` (the directory its
    /// location may read). `shown` is how the caller named it (errors name only that).
    pub fn check_file(&self, path: &Path, within: &Path, shown: &str) -> Result<PathBuf, Refused> {
        let canonical = match std::fs::canonicalize(path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Refused::Missing(shown.to_string()))
            }
            Err(e) => return Err(Refused::Io(shown.to_string(), kind_text(&e))),
        };
        if is_system(&canonical) || !canonical.starts_with(within) {
            return Err(Refused::OutsideLocation(shown.to_string()));
        }
        match std::fs::metadata(&canonical) {
            Ok(m) if m.is_file() => Ok(canonical),
            Ok(_) => Err(Refused::NotRegular(shown.to_string())),
            Err(e) => Err(Refused::Io(shown.to_string(), kind_text(&e))),
        }
    }

    /// Reads `path` (checked as [`Policy::check_file`]) as UTF-8 text on a blocking thread, refusing
    /// files larger than the byte limit. Returns the canonical path and the text.
    pub async fn read_file(
        &self,
        path: &Path,
        within: &Path,
        shown: &str,
    ) -> Result<(PathBuf, String), Refused> {
        let policy = self.clone();
        let (path, within, shown) = (path.to_path_buf(), within.to_path_buf(), shown.to_string());
        let fail = shown.clone();
        tokio::task::spawn_blocking(move || policy.read_file_blocking(&path, &within, &shown))
            .await
            .unwrap_or_else(|_| Err(Refused::Io(fail, "read stopped".into())))
    }

    /// [`Policy::read_file`] on the calling thread.
    pub fn read_file_blocking(
        &self,
        path: &Path,
        within: &Path,
        shown: &str,
    ) -> Result<(PathBuf, String), Refused> {
        let canonical = self.check_file(path, within, shown)?;
        let io = |e: std::io::Error| Refused::Io(shown.to_string(), kind_text(&e));
        let file = open_no_block(&canonical).map_err(io)?;
        // The file checked may have been swapped since: check what was opened.
        if !file.metadata().map_err(io)?.is_file() {
            return Err(Refused::NotRegular(shown.to_string()));
        }
        let mut bytes = Vec::new();
        file.take(self.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(Refused::TooLarge(shown.to_string(), self.max_file_bytes));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| Refused::Io(shown.to_string(), "not UTF-8 text".into()))?;
        Ok((canonical, text))
    }
}

/// Opens for reading without blocking on a FIFO or a device that was swapped in after the check.
fn open_no_block(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
}

/// An I/O error's kind, without the OS text (which can carry paths).
fn kind_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        _ => "I/O error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confines_to_the_directory_and_to_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.yaml"), "x: 1\n").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("out.yaml")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero.yaml")).unwrap();
        let p = Policy::new(&[], &[], &[], 4).unwrap();
        assert!(p.check_file(&root.join("a.yaml"), &root, "a").is_ok());
        assert_eq!(
            p.check_file(&root.join("sub"), &root, "sub"),
            Err(Refused::NotRegular("sub".into()))
        );
        assert_eq!(
            p.check_file(&root.join("out.yaml"), &root, "out.yaml"),
            Err(Refused::OutsideLocation("out.yaml".into()))
        );
        assert_eq!(
            p.check_file(&root.join("zero.yaml"), &root, "zero.yaml"),
            Err(Refused::OutsideLocation("zero.yaml".into()))
        );
        let slash = Path::new("/");
        for sys in ["/proc/self/environ", "/dev/zero", "/sys/kernel/mm"] {
            assert_eq!(
                p.check_file(Path::new(sys), slash, sys),
                Err(Refused::OutsideLocation(sys.into())),
                "{sys}"
            );
        }
        std::fs::write(root.join("big.yaml"), "0123456789").unwrap();
        assert_eq!(
            p.read_file_blocking(&root.join("big.yaml"), &root, "big.yaml"),
            Err(Refused::TooLarge("big.yaml".into(), 4))
        );
    }
}
