//! `file` locations: a YAML file or a glob of them, with the `kind: Location` entities they point at;
//! targets and placeholders stay inside the location's root directory.

use std::path::{Component, Path, PathBuf};
use tokio::sync::mpsc;

use super::placeholders::PlaceholderResolver;
use super::walk::{Batch, Place, Scope, Walker};
use super::{Cursor, Provider, ReadEnd};
use crate::catalog::model::Entity;
use crate::catalog::validate::InvalidEntity;

/// Everything read from one location tree.
#[derive(Debug, Default)]
pub struct LocationRead {
    pub entities: Vec<Entity>,
    pub invalid: Vec<InvalidEntity>,
    /// Problems that are not about one entity: unreadable files, bad YAML, refused targets.
    pub errors: Vec<String>,
}

/// The key a file location is stored under: `file:` and its absolute (canonical when it exists) path.
pub fn file_location_key(target: &str) -> String {
    let path = std::fs::canonicalize(target)
        .or_else(|_| std::path::absolute(target))
        .unwrap_or_else(|_| PathBuf::from(target));
    format!("file:{}", path.display())
}

fn is_glob(target: &str) -> bool {
    target.contains(['*', '?', '['])
}

/// The directory a location may read inside: the target's directory, or a glob's literal prefix.
fn root_of(target: &str) -> PathBuf {
    let abs = std::path::absolute(target).unwrap_or_else(|_| PathBuf::from(target));
    let dir: PathBuf = if is_glob(target) {
        abs.components()
            .take_while(|c| !matches!(c, Component::Normal(s) if is_glob(&s.to_string_lossy())))
            .collect()
    } else {
        abs.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// A file (or glob) location on this machine.
pub struct FileProvider {
    key: String,
    target: String,
    resolver: PlaceholderResolver,
}

impl FileProvider {
    /// Uses `key` as the source's stored key.
    pub fn set_key(&mut self, key: &str) {
        self.key = key.to_string();
    }

    pub fn new(target: &str, resolver: PlaceholderResolver) -> Self {
        Self {
            key: file_location_key(target),
            target: target.to_string(),
            resolver,
        }
    }

    /// The files the target names: itself, or every file the glob matches (sorted; the directory walk
    /// runs on a blocking thread).
    async fn roots(&self) -> Result<Vec<Place>, String> {
        if !is_glob(&self.target) {
            return Ok(vec![Place::File(PathBuf::from(&self.target))]);
        }
        let target = self.target.clone();
        let files = tokio::task::spawn_blocking(move || {
            let paths = glob::glob(&target).map_err(|e| format!("{target}: invalid glob: {e}"))?;
            let mut files: Vec<PathBuf> = paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            Ok::<_, String>(files)
        })
        .await
        .map_err(|e| format!("{}: glob stopped: {e}", self.target))??;
        if files.is_empty() {
            return Err(format!("{}: no file matches", self.target));
        }
        Ok(files.into_iter().map(Place::File).collect())
    }

    async fn walker(&self, previous: Cursor) -> Result<Walker, String> {
        let scope = Scope {
            root: Some(root_of(&self.target)),
            origin: self.key.clone(),
            label: None,
        };
        Ok(Walker::new(
            self.roots().await?,
            scope,
            self.resolver.clone(),
            previous,
        ))
    }
}

#[async_trait::async_trait]
impl Provider for FileProvider {
    fn key(&self) -> &str {
        &self.key
    }
    fn source_type(&self) -> &'static str {
        "file"
    }
    fn target(&self) -> &str {
        &self.target
    }
    async fn read(&self, previous: Cursor, out: mpsc::Sender<Batch>) -> Result<ReadEnd, String> {
        let files = super::walk_into(self.walker(previous).await?, &out).await;
        Ok(ReadEnd::Snapshot {
            cursor: Cursor {
                files,
                ..Cursor::default()
            },
        })
    }
}

/// Reads a provider's whole tree into memory (for `validate` and dry runs; ingest streams instead).
pub async fn read_all(provider: &dyn Provider) -> LocationRead {
    let (tx, mut rx) = mpsc::channel(4);
    let reading = provider.read(Cursor::default(), tx);
    let collecting = async {
        let mut all = LocationRead::default();
        while let Some(b) = rx.recv().await {
            all.entities.extend(b.entities);
            all.invalid.extend(b.invalid);
            all.errors.extend(b.errors);
        }
        all
    };
    let (end, mut all) = tokio::join!(reading, collecting);
    if let Err(e) = end {
        all.errors.push(e);
    }
    all
}

/// Reads the file location `root` and every file reachable from it into memory.
pub async fn read_file_location(root: &Path, resolver: &PlaceholderResolver) -> LocationRead {
    let provider = FileProvider::new(&root.display().to_string(), resolver.clone());
    read_all(&provider).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn follows_locations_and_keeps_valid_entities_next_to_invalid_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir(p.join("sub")).unwrap();
        std::fs::write(
            p.join("root.yaml"),
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: root}\nspec:\n  targets: [./sub/a.yaml, ./root.yaml]\n",
        )
        .unwrap();
        std::fs::write(
            p.join("sub/a.yaml"),
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team, children: []}\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: bad name}\nspec: {type: team, children: []}\n",
        )
        .unwrap();
        let read = read_file_location(&p.join("root.yaml"), &PlaceholderResolver::default()).await;
        assert_eq!(read.entities.len(), 2, "{read:?}");
        assert_eq!(read.invalid.len(), 1);
        assert!(read.invalid[0]
            .to_string()
            .contains("a.yaml:5: Group:default/bad name: metadata.name"));
        assert!(read.errors.is_empty(), "{:?}", read.errors);
    }
}
