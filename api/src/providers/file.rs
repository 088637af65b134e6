//! File locations: read a YAML file, follow `kind: Location` targets relative to it, validate every document.

use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use super::placeholders::PlaceholderResolver;
use crate::catalog::model::{parse_documents, Entity};
use crate::catalog::validate::{validate, InvalidEntity};

/// Everything read from one location tree.
#[derive(Debug, Default)]
pub struct LocationRead {
    pub entities: Vec<Entity>,
    pub invalid: Vec<InvalidEntity>,
    /// Problems that are not about one entity: unreadable files, bad YAML, unsupported targets.
    pub errors: Vec<String>,
}

/// Walks a file location tree one file at a time, following `kind: Location` entities (type `file`),
/// so callers can store each file's entities before reading the next.
pub struct FileWalker<'r> {
    resolver: &'r PlaceholderResolver,
    queue: VecDeque<PathBuf>,
    visited: HashSet<PathBuf>,
    /// ref -> where it was first defined, to report duplicates.
    seen: HashMap<String, String>,
}

impl<'r> FileWalker<'r> {
    pub fn new(root: &Path, resolver: &'r PlaceholderResolver) -> Self {
        Self {
            resolver,
            queue: VecDeque::from([root.to_path_buf()]),
            visited: HashSet::new(),
            seen: HashMap::new(),
        }
    }

    /// Reads the next file of the tree, or `None` when every reachable file has been read.
    pub async fn next_file(&mut self) -> Option<LocationRead> {
        let path = loop {
            let p = self.queue.pop_front()?;
            let p = std::fs::canonicalize(&p).unwrap_or(p);
            if self.visited.insert(p.clone()) {
                break p;
            }
        };
        let mut out = LocationRead::default();
        let shown = path.display().to_string();
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(format!("{shown}: cannot read: {e}"));
                return Some(out);
            }
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for doc in parse_documents(&shown, &text) {
            let (pos, mut value) = match doc {
                Ok(d) => d,
                Err(e) => {
                    out.errors.push(e.to_string());
                    continue;
                }
            };
            let status = self.resolver.resolve(&mut value, &dir).await;
            let entity = match validate(pos, value, status) {
                Ok(e) => e,
                Err(invalid) => {
                    out.invalid.push(invalid);
                    continue;
                }
            };
            let key = entity.entity_ref.to_string();
            if let Some(first) = self.seen.get(&key) {
                out.errors.push(format!(
                    "{}: {key} is defined again (first at {first}); ignored",
                    entity.source
                ));
                continue;
            }
            self.seen.insert(key, entity.source.to_string());
            if entity.kind().eq_ignore_ascii_case("location") {
                follow_targets(&entity, &dir, &mut self.queue, &mut out.errors);
            }
            out.entities.push(entity);
        }
        Some(out)
    }
}

/// Reads `root` and every file reachable from it into memory (for `validate`; ingest streams instead).
pub async fn read_file_location(root: &Path, resolver: &PlaceholderResolver) -> LocationRead {
    let mut all = LocationRead::default();
    let mut walker = FileWalker::new(root, resolver);
    while let Some(file) = walker.next_file().await {
        all.entities.extend(file.entities);
        all.invalid.extend(file.invalid);
        all.errors.extend(file.errors);
    }
    all
}

fn follow_targets(
    loc: &Entity,
    dir: &Path,
    queue: &mut VecDeque<PathBuf>,
    errors: &mut Vec<String>,
) {
    let ty = loc.spec_str("type").unwrap_or("file");
    let mut targets: Vec<&str> = loc.spec_str("target").into_iter().collect();
    if let Some(Value::Array(items)) = loc.spec().get("targets") {
        targets.extend(items.iter().filter_map(Value::as_str));
    }
    for target in targets {
        if ty != "file" {
            errors.push(format!(
                "{}: {}: location type '{ty}' for target '{target}' is not supported by file locations",
                loc.source, loc.entity_ref
            ));
            continue;
        }
        queue.push_back(dir.join(target));
    }
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
