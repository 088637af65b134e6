//! `fetch:template`: copies a skeleton directory of the template's source into the workspace, rendering
//! every output path with `${{ values.* }}` and file contents unless told not to, as Backstage's does:
//! `templateFileExtension` renders only files with that extension (stripped from the name),
//! `copyWithoutTemplating` (or the deprecated `copyWithoutRender`, which leaves matched names as
//! they are too) copies matched files unrendered, a path with a segment that renders empty is left
//! out, and an existing file is kept unless `replace: true`. Each file renders on a blocking thread
//! within the fuel and `scaffolder.maxFileBytes`.

use serde_json::Value;
use std::path::Path;

use super::files::{list, read_capped, skipped, target, write_tree, Content, Entry, Out};
use super::url_tree::{source, Trees};
use super::{Action, ActionContext, ActionError};
use crate::scaffolder::expr::FileOptions;

/// Reads skeletons named by URL through `trees`.
pub struct FetchTemplate {
    pub(super) trees: std::sync::Arc<Trees>,
}

/// How the step's inputs say to treat each entry.
struct Plan {
    /// Only files with this extension render (`templateFileExtension`).
    extension: Option<String>,
    /// Entries whose contents are copied as is.
    patterns: Vec<glob::Pattern>,
    /// `copyWithoutRender`: matched paths are not rendered either.
    keep_names: bool,
}

fn strings(cx: &ActionContext, key: &str) -> Result<Option<Vec<String>>, ActionError> {
    let Some(v) = cx.input.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = || ActionError::Input(format!("input.{key} must be a list of glob patterns"));
    let list = v.as_array().ok_or_else(bad)?;
    list.iter()
        .map(|p| p.as_str().map(str::to_string).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn extension(cx: &ActionContext) -> Result<Option<String>, ActionError> {
    match cx.input.get("templateFileExtension") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(".njk".into())),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.starts_with('.') => Ok(Some(s.clone())),
        Some(Value::String(s)) => Ok(Some(format!(".{s}"))),
        Some(_) => Err(ActionError::input(
            "input.templateFileExtension must be true or an extension such as .njk",
        )),
    }
}

/// The globs of `copyWithoutTemplating`, matched as Backstage's globby does: `dot: true`, `*` within
/// one segment, and a pattern naming a directory of the skeleton matching everything inside it.
fn compile(src: &Path, raw: &[String], key: &str) -> Result<Vec<glob::Pattern>, ActionError> {
    let mut out = Vec::new();
    for p in raw {
        let p = p.trim_start_matches("./").trim_end_matches('/');
        let bad = |e: glob::PatternError| ActionError::Input(format!("input.{key}: '{p}': {e}"));
        out.push(glob::Pattern::new(p).map_err(bad)?);
        let names_dir = super::inside(src, p)
            .ok()
            .and_then(|d| std::fs::symlink_metadata(d).ok())
            .is_some_and(|m| m.is_dir());
        if names_dir {
            let escaped = glob::Pattern::escape(p);
            out.push(glob::Pattern::new(&format!("{escaped}/**")).map_err(bad)?);
        }
    }
    Ok(out)
}

fn plan(cx: &ActionContext, src: &Path) -> Result<Plan, ActionError> {
    let templating = strings(cx, "copyWithoutTemplating")?;
    let render = strings(cx, "copyWithoutRender")?;
    if templating.is_some() && render.is_some() {
        return Err(ActionError::input(
            "input.copyWithoutRender and input.copyWithoutTemplating cannot be used together \
             (copyWithoutRender is deprecated: use copyWithoutTemplating)",
        ));
    }
    let extension = extension(cx)?;
    if extension.is_some() && (templating.is_some() || render.is_some()) {
        return Err(ActionError::input(
            "input.templateFileExtension cannot be used with copyWithoutTemplating or copyWithoutRender",
        ));
    }
    let keep_names = render.is_some();
    let key = if keep_names {
        "copyWithoutRender"
    } else {
        "copyWithoutTemplating"
    };
    let patterns = compile(src, &templating.or(render).unwrap_or_default(), key)?;
    Ok(Plan {
        extension,
        patterns,
        keep_names,
    })
}

impl Plan {
    /// Whether the entry's contents render, and the output path before rendering (`None`: as is).
    fn entry(&self, rel: &str) -> (bool, Option<String>) {
        if let Some(ext) = &self.extension {
            return match rel.strip_suffix(ext.as_str()) {
                Some(stem) if !stem.is_empty() && !stem.ends_with('/') => (true, Some(stem.into())),
                _ => (false, Some(rel.into())),
            };
        }
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let copied = self.patterns.iter().any(|p| p.matches_with(rel, opts));
        let name = (!copied || !self.keep_names).then(|| rel.to_string());
        (!copied, name)
    }
}

/// Whether text holds anything the renderer would change.
fn templated(text: &str, cookiecutter: bool) -> bool {
    text.contains("${{")
        || text.contains("{%")
        || text.contains("{#")
        || (cookiecutter && text.contains("{{"))
}

#[async_trait::async_trait]
impl Action for FetchTemplate {
    fn id(&self) -> &'static str {
        "fetch:template"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let fetched = source(cx, &self.trees).await?;
        let src = fetched.src().to_path_buf();
        let dst = target(cx)?;
        let plan = plan(cx, &src)?;
        let replace = cx
            .input
            .get("replace")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let out = Out::new(&cx.workspace, replace)?;
        let values = cx.input.get("values").cloned().unwrap_or(Value::Null);
        let flag = |k: &str| cx.input.get(k).and_then(Value::as_bool).unwrap_or(false);
        let options = FileOptions {
            trim_blocks: flag("trimBlocks"),
            lstrip_blocks: flag("lstripBlocks"),
            cookiecutter: flag("cookiecutterCompat"),
        };
        let cap = crate::scaffolder::expr::limits().max_file_bytes;
        let n = tokio::task::spawn_blocking(move || {
            let _kept = fetched;
            let env = crate::scaffolder::expr::environment_with(options);
            let key = if options.cookiecutter {
                "cookiecutter"
            } else {
                "values"
            };
            let ctx = minijinja::Value::from_serialize(serde_json::json!({ key: values }));
            let render = |rel: &str, text: &str| -> Result<String, ActionError> {
                if !templated(text, options.cookiecutter) {
                    return Ok(text.to_string());
                }
                crate::scaffolder::expr::render_text(&env, text, &ctx, cap)
                    .map_err(|e| ActionError::Failed(format!("{rel}: {e}")))
            };
            let entries = list(&src)?;
            let place = |e: &Entry| -> Result<Option<String>, ActionError> {
                if e.rel.is_empty() {
                    return Ok(Some(String::new())); // a single file: to targetPath itself
                }
                let path = match plan.entry(&e.rel).1 {
                    Some(name) => render(&e.rel, &name)?,
                    None => e.rel.clone(),
                };
                Ok((!skipped(&path)).then_some(path))
            };
            let content = |e: &Entry, file: std::fs::File| -> Result<Content, ActionError> {
                if !e.rel.is_empty() && !plan.entry(&e.rel).0 {
                    return Ok(Content::File(file));
                }
                let bytes = read_capped(file, &e.rel, cap)?;
                Ok(match std::str::from_utf8(&bytes) {
                    Ok(text) => Content::Bytes(render(&e.rel, text)?.into_bytes()),
                    Err(_) => Content::Bytes(bytes), // binary: as is
                })
            };
            write_tree(&src, &entries, &dst, &out, &place, &content)
        })
        .await
        .map_err(|_| ActionError::Failed("the rendering stopped".into()))??;
        cx.log.log(&format!("rendered {n} files")).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(patterns: &[&str], keep_names: bool, dir: &Path) -> Plan {
        let raw: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        Plan {
            extension: None,
            patterns: compile(dir, &raw, "copyWithoutTemplating").unwrap(),
            keep_names,
        }
    }

    #[test]
    fn globs_match_as_globby_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
        for pattern in [
            ".github/workflows",
            ".github/workflows/",
            "./.github/workflows",
        ] {
            let p = plan_of(&[pattern], false, dir.path());
            assert!(!p.entry(".github/workflows/ci.yml").0, "{pattern}");
            assert!(p.entry(".github/other.yml").0, "{pattern}");
        }
        let p = plan_of(&["docs/*", "**/*.png"], false, dir.path());
        assert!(!p.entry("docs/a.md").0);
        assert!(!p.entry("docs/.hidden").0);
        assert!(p.entry("docs/sub/x.md").0);
        assert!(!p.entry("img/deep/logo.png").0);
        assert_eq!(p.entry("docs/a.md").1.as_deref(), Some("docs/a.md"));
        let p = plan_of(&["docs/*"], true, dir.path());
        assert_eq!(p.entry("docs/a.md").1, None);
    }

    #[test]
    fn an_extension_renders_only_its_files_and_is_stripped() {
        let p = Plan {
            extension: Some(".njk".into()),
            patterns: Vec::new(),
            keep_names: false,
        };
        assert_eq!(
            p.entry("a/README.md.njk"),
            (true, Some("a/README.md".into()))
        );
        assert_eq!(p.entry("a/raw.md"), (false, Some("a/raw.md".into())));
        assert_eq!(p.entry("a/.njk"), (false, Some("a/.njk".into())));
    }
}
