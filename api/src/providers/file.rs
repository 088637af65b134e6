//! `file` locations: a YAML file or a glob of them, with the `kind: Location` entities they point at;
//! targets and placeholders stay inside the location's root directory.

use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

use super::error::ProviderError;
use super::glob::{expand, is_glob, pattern_below, root_of};
use super::place::Place;
use super::placeholders::PlaceholderResolver;
use super::walk::{Batch, Scope, Walker};
use super::{Cursor, Provider, ReadEnd};
use crate::catalog::model::Entity;
use crate::catalog::rules::SourceRules;
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

/// A file (or glob) location on this machine.
pub struct FileProvider {
    key: String,
    target: String,
    resolver: PlaceholderResolver,
    /// Registered at run time: its directory is checked against the policy at every read.
    registered: bool,
}

impl FileProvider {
    /// Uses `key` as the source's stored key.
    pub fn set_key(&mut self, key: &str) {
        self.key = key.to_string();
    }

    /// A configured location (or a file named on the command line): it may read inside its own directory
    /// (a glob: its literal prefix).
    pub fn new(target: &str, resolver: PlaceholderResolver) -> Self {
        Self {
            key: file_location_key(target),
            target: target.to_string(),
            resolver,
            registered: false,
        }
    }

    /// A location registered at run time: its directory must lie inside one the policy allows.
    pub fn registered(target: &str, resolver: PlaceholderResolver) -> Result<Self, ProviderError> {
        let p = Self {
            registered: true,
            ..Self::new(target, resolver)
        };
        p.check_root()?;
        Ok(p)
    }

    fn check_root(&self) -> Result<(), ProviderError> {
        if self.registered && !self.resolver.policy().dir_allowed(&root_of(&self.target)) {
            return Err(crate::confine::Refused::OutsideRoots(self.target.clone()).into());
        }
        Ok(())
    }

    /// The files the target names: itself, or every file the glob matches (sorted; the directory walk
    /// runs on a blocking thread).
    async fn roots(&self) -> Result<Vec<Place>, ProviderError> {
        if !is_glob(&self.target) {
            return Ok(vec![Place::File(PathBuf::from(&self.target))]);
        }
        let root = root_of(&self.target);
        let pattern = pattern_below(&self.target, &root);
        let files = expand(&pattern, &root, &self.target).await?;
        if files.is_empty() {
            return Err(ProviderError::NoMatch(format!(
                "{}: no file matches",
                self.target
            )));
        }
        Ok(files.into_iter().map(Place::File).collect())
    }

    async fn walker(&self, previous: Cursor) -> Result<Walker, ProviderError> {
        // Checked at every read: a registered location stays inside what the policy allows now.
        self.check_root()?;
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
    async fn read(
        &self,
        previous: Cursor,
        out: mpsc::Sender<Batch>,
    ) -> Result<ReadEnd, ProviderError> {
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
pub async fn read_all(provider: &dyn Provider, rules: &SourceRules) -> LocationRead {
    let (tx, mut rx) = mpsc::channel(4);
    let reading = provider.read(Cursor::default(), tx);
    let collecting = async {
        let mut all = LocationRead::default();
        while let Some(b) = rx.recv().await {
            let b = b.enforce(rules);
            all.entities.extend(b.entities);
            all.invalid.extend(b.invalid);
            all.errors.extend(b.errors);
        }
        all
    };
    let (end, mut all) = tokio::join!(reading, collecting);
    if let Err(e) = end {
        all.errors.push(e.to_string());
    }
    all
}

/// Reads the file location `root` and every file reachable from it into memory.
pub async fn read_file_location(root: &Path, resolver: &PlaceholderResolver) -> LocationRead {
    let provider = FileProvider::new(&root.display().to_string(), resolver.clone());
    read_all(&provider, &SourceRules::allow_all()).await
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
