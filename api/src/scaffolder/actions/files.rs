//! What `fetch:plain` and `fetch:template` share: the source inside the template's directory (never
//! outside it), the target inside the workspace, and the copy of a tree.

use serde_json::Value;
use std::path::{Path, PathBuf};

use super::{inside, ActionContext, ActionError};

/// The source path for `input.url`, inside the template's directory (symlinks resolved).
pub(super) fn source(cx: &ActionContext) -> Result<(PathBuf, PathBuf), ActionError> {
    let root = cx.template_dir.clone().ok_or_else(|| {
        ActionError::input("this template was not read from a file, so it has no files to fetch")
    })?;
    let url = cx.input.get("url").and_then(Value::as_str).unwrap_or(".");
    let joined = inside(&root, url)?;
    let root = root
        .canonicalize()
        .map_err(|e| ActionError::File("template directory".into(), e))?;
    let src = joined
        .canonicalize()
        .map_err(|e| ActionError::File(url.to_string(), e))?;
    if !src.starts_with(&root) {
        return Err(ActionError::Input(format!(
            "'{url}' leaves the template's directory"
        )));
    }
    Ok((root, src))
}

pub(super) fn target(cx: &ActionContext) -> Result<PathBuf, ActionError> {
    let t = cx
        .input
        .get("targetPath")
        .and_then(Value::as_str)
        .unwrap_or(".");
    cx.workspace_path(t)
}

/// Renders a file name or contents (`None`: keep as is), given the path relative to the source.
pub(super) type Render<'a> = &'a dyn Fn(&Path, &str) -> Result<Option<String>, ActionError>;

/// The error for a file operation on `path` that failed.
fn file(path: &Path) -> impl Fn(std::io::Error) -> ActionError + '_ {
    move |e| ActionError::File(path.display().to_string(), e)
}

/// Copies `src` (file or directory) to `dst`; with `render`, file names and contents go through it.
pub(super) fn copy_tree(
    src: &Path,
    dst: &Path,
    rel: &Path,
    render: Render<'_>,
    count: &mut usize,
) -> Result<(), ActionError> {
    let meta = std::fs::symlink_metadata(src).map_err(file(src))?;
    if meta.file_type().is_symlink() {
        return Err(ActionError::Input(format!(
            "{}: symbolic links are not copied",
            rel.display()
        )));
    }
    if meta.is_dir() {
        std::fs::create_dir_all(dst).map_err(file(dst))?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(file(src))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let rel_child = rel.join(&name);
            let rendered_name = match render(&rel_child, &name)? {
                Some(n) => n,
                None => name.clone(),
            };
            if rendered_name.is_empty() || rendered_name.contains('/') || rendered_name == ".." {
                // The rendered name is not shown: it may derive from a secret in `values`.
                return Err(ActionError::Input(format!(
                    "{}: renders to an invalid file name",
                    rel_child.display()
                )));
            }
            copy_tree(
                &e.path(),
                &dst.join(rendered_name),
                &rel_child,
                render,
                count,
            )?;
        }
        return Ok(());
    }
    let bytes = std::fs::read(src).map_err(file(src))?;
    let out = match std::str::from_utf8(&bytes) {
        Ok(text) => match render(rel, text)? {
            Some(rendered) => rendered.into_bytes(),
            None => bytes,
        },
        Err(_) => bytes, // binary: as is
    };
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(file(parent))?;
    }
    std::fs::write(dst, out).map_err(file(dst))?;
    *count += 1;
    Ok(())
}
