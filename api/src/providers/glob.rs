//! Glob targets: the directory a glob may read (its literal prefix) and the files it matches, walked on
//! a blocking thread without following symlinks, bounded in entries and stopped when its read is dropped.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::ProviderError;

/// Most directory entries one glob may visit.
pub const MAX_ENTRIES: usize = 200_000;

/// Whether a target is a glob.
pub fn is_glob(target: &str) -> bool {
    target.contains(['*', '?', '[', '{'])
}

/// A target's literal directory (absolute, as written) and, for a glob, the pattern below it.
fn split(target: &str) -> (PathBuf, Option<String>) {
    let abs = std::path::absolute(target).unwrap_or_else(|_| PathBuf::from(target));
    if !is_glob(target) {
        return (
            abs.parent().map(Path::to_path_buf).unwrap_or_default(),
            None,
        );
    }
    let literal =
        |c: &Component| !matches!(c, Component::Normal(s) if is_glob(&s.to_string_lossy()));
    let dir: PathBuf = abs.components().take_while(literal).collect();
    let rest: Vec<String> = abs
        .components()
        .skip_while(literal)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (dir, Some(rest.join("/")))
}

/// The directory a target may read: a file's directory, or a glob's literal prefix (the components
/// before the first one with a glob character), canonical when it exists.
pub fn root_of(target: &str) -> PathBuf {
    let (dir, _) = split(target);
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// A glob target as a pattern below its canonical root (what the walk yields paths under).
pub fn pattern_below(target: &str, root: &Path) -> String {
    let (_, rest) = split(target);
    let root = glob::Pattern::escape(&root.display().to_string());
    format!(
        "{}/{}",
        root.trim_end_matches('/'),
        rest.unwrap_or_default()
    )
}

/// Sets its flag when dropped: a blocking walk polls it and stops once its caller has gone.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The files under `root` whose absolute path matches `pattern`, sorted; directories named `.git` are
/// skipped, symlinks are listed but never followed. Runs on a blocking thread; dropping the future stops
/// the walk. `shown` names the glob in errors.
pub async fn expand(
    pattern: &str,
    root: &Path,
    shown: &str,
) -> Result<Vec<PathBuf>, ProviderError> {
    let matcher = glob::Pattern::new(pattern)
        .map_err(|e| ProviderError::Target(format!("{shown}: invalid glob: {e}")))?;
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let flag = cancel.0.clone();
    let (root, shown_owned) = (root.to_path_buf(), shown.to_string());
    let walk = tokio::task::spawn_blocking(move || walk(&matcher, &root, &flag, &shown_owned));
    let result = walk
        .await
        .map_err(|_| ProviderError::Walk(format!("{shown}: the directory walk stopped")))?;
    drop(cancel);
    result
}

fn walk(
    matcher: &glob::Pattern,
    root: &Path,
    cancel: &AtomicBool,
    shown: &str,
) -> Result<Vec<PathBuf>, ProviderError> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut files = Vec::new();
    let entries = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git");
    for (visited, entry) in entries.enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(ProviderError::Walk(format!(
                "{shown}: the directory walk was stopped"
            )));
        }
        if visited >= MAX_ENTRIES {
            return Err(ProviderError::Walk(format!(
                "{shown}: the glob visits more than {MAX_ENTRIES} entries"
            )));
        }
        let Ok(entry) = entry else { continue };
        let ty = entry.file_type();
        if (ty.is_file() || ty.is_symlink()) && matcher.matches_path_with(entry.path(), options) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn matches_like_glob_and_never_follows_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("catalog-info.yaml"), "").unwrap();
        std::fs::write(root.join("a/b/catalog-info.yaml"), "").unwrap();
        std::fs::write(root.join("a/other.yaml"), "").unwrap();
        std::os::unix::fs::symlink(".", root.join("d/a")).unwrap();
        std::os::unix::fs::symlink(".", root.join("d/b")).unwrap();
        let pattern = format!("{}/**/catalog-info.yaml", root.display());
        let found = expand(&pattern, &root, "g").await.unwrap();
        assert_eq!(
            found,
            vec![
                root.join("a/b/catalog-info.yaml"),
                root.join("catalog-info.yaml")
            ]
        );
        let target = format!("{}/./a/*.yaml", dir.path().display());
        let one = pattern_below(&target, &root_of(&target));
        assert_eq!(
            expand(&one, &root_of(&target), "g").await.unwrap(),
            vec![root.join("a/other.yaml")]
        );
    }

    #[test]
    fn the_root_of_a_glob_is_its_literal_prefix() {
        assert_eq!(root_of("/[t]mp/x/*.yaml"), PathBuf::from("/"));
        assert_eq!(
            root_of("/nonexistent-gr/a/**/x.yaml"),
            PathBuf::from("/nonexistent-gr/a")
        );
    }
}
