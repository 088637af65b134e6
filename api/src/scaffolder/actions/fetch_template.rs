//! `fetch:plain` (copy a directory or file of the template's source into the workspace) and
//! `fetch:template` (the same, rendering file contents and names with `${{ values.* }}`, except files
//! matching `copyWithoutTemplating`). Sources are relative to the template's file and never leave its
//! directory.

use serde_json::Value;
use std::path::{Path, PathBuf};

use super::{inside, Action, ActionContext};

/// The source path for `input.url`, inside the template's directory (symlinks resolved).
fn source(cx: &ActionContext) -> Result<(PathBuf, PathBuf), String> {
    let root = cx
        .template_dir
        .clone()
        .ok_or("this template was not read from a file, so it has no files to fetch")?;
    let url = cx.input.get("url").and_then(Value::as_str).unwrap_or(".");
    let joined = inside(&root, url)?;
    let root = root
        .canonicalize()
        .map_err(|e| format!("template directory: {e}"))?;
    let src = joined.canonicalize().map_err(|e| format!("{url}: {e}"))?;
    if !src.starts_with(&root) {
        return Err(format!("'{url}' leaves the template's directory"));
    }
    Ok((root, src))
}

fn target(cx: &ActionContext) -> Result<PathBuf, String> {
    let t = cx
        .input
        .get("targetPath")
        .and_then(Value::as_str)
        .unwrap_or(".");
    cx.workspace_path(t)
}

/// Renders a file name or contents (`None`: keep as is), given the path relative to the source.
type Render<'a> = &'a dyn Fn(&Path, &str) -> Result<Option<String>, String>;

/// Copies `src` (file or directory) to `dst`; with `render`, file names and contents go through it.
fn copy_tree(
    src: &Path,
    dst: &Path,
    rel: &Path,
    render: Render<'_>,
    count: &mut usize,
) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!("{}: symbolic links are not copied", rel.display()));
    }
    if meta.is_dir() {
        std::fs::create_dir_all(dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(|e| format!("{}: {e}", src.display()))?
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
                return Err(format!(
                    "{}: renders to an invalid name '{rendered_name}'",
                    rel_child.display()
                ));
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
    let bytes = std::fs::read(src).map_err(|e| format!("{}: {e}", src.display()))?;
    let out = match std::str::from_utf8(&bytes) {
        Ok(text) => match render(rel, text)? {
            Some(rendered) => rendered.into_bytes(),
            None => bytes,
        },
        Err(_) => bytes, // binary: as is
    };
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(dst, out).map_err(|e| format!("{}: {e}", dst.display()))?;
    *count += 1;
    Ok(())
}

pub struct FetchPlain;

#[async_trait::async_trait]
impl Action for FetchPlain {
    fn id(&self) -> &'static str {
        "fetch:plain"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), String> {
        let (_, src) = source(cx)?;
        let dst = target(cx)?;
        let n = tokio::task::spawn_blocking(move || {
            let mut n = 0;
            copy_tree(&src, &dst, Path::new(""), &|_, _| Ok(None), &mut n).map(|_| n)
        })
        .await
        .map_err(|e| e.to_string())??;
        cx.log.log(&format!("fetched {n} files")).await;
        Ok(())
    }
}

pub struct FetchTemplate;

#[async_trait::async_trait]
impl Action for FetchTemplate {
    fn id(&self) -> &'static str {
        "fetch:template"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), String> {
        let (_, src) = source(cx)?;
        let dst = target(cx)?;
        let values = cx.input.get("values").cloned().unwrap_or(Value::Null);
        let raw: Vec<glob::Pattern> = cx
            .input
            .get("copyWithoutTemplating")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|p| glob::Pattern::new(p.trim_start_matches("./")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|e| format!("copyWithoutTemplating: {e}"))?
            .unwrap_or_default();
        let n = tokio::task::spawn_blocking(move || {
            let env = crate::scaffolder::expr::environment();
            let ctx = minijinja::Value::from_serialize(serde_json::json!({ "values": values }));
            let render = |rel: &Path, text: &str| -> Result<Option<String>, String> {
                let rel_s = rel.display().to_string();
                if raw.iter().any(|p| p.matches(&rel_s)) {
                    return Ok(None);
                }
                if !text.contains("${{") && !text.contains("{%") {
                    return Ok(None);
                }
                env.render_str(text, &ctx)
                    .map(Some)
                    .map_err(|e| format!("{rel_s}: {e}"))
            };
            let mut n = 0;
            copy_tree(&src, &dst, Path::new(""), &render, &mut n).map(|_| n)
        })
        .await
        .map_err(|e| e.to_string())??;
        cx.log.log(&format!("rendered {n} files")).await;
        Ok(())
    }
}
