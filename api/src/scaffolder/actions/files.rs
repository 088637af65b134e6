//! What `fetch:plain` and `fetch:template` share: the source inside the template's directory (never
//! outside it), the listing of a skeleton (links never followed), and the confined writer that puts
//! entries into the workspace (never through a link, modes kept, existing files kept or replaced).

use serde_json::Value;
use std::fs::{File, OpenOptions, Permissions};
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::{inside, ActionContext, ActionError};
use crate::confine::Policy;

/// The source path for `input.url`, relative to the template's file and inside its directory (or, for a
/// template from a git source, inside its repository's checkout), symlinks resolved.
pub(super) fn source(cx: &ActionContext) -> Result<(PathBuf, PathBuf), ActionError> {
    let base = cx.template_dir.clone().ok_or_else(|| {
        ActionError::input(
            "this template was not read from a file or a git source, so it has no files to fetch",
        )
    })?;
    let root = cx.template_root.clone().unwrap_or_else(|| base.clone());
    let url = cx.input.get("url").and_then(Value::as_str).unwrap_or(".");
    let from_root = base.strip_prefix(&root).unwrap_or(Path::new(""));
    let joined = inside(&root, &from_root.join(url).display().to_string())
        .map_err(|_| ActionError::Escapes(url.to_string()))?;
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

/// What a skeleton entry is (as `lstat` sees it: links are never followed).
pub(super) enum Kind {
    Dir,
    /// A regular file and its permission bits.
    File(u32),
    /// A symbolic link to a regular file inside the skeleton, and its (relative) target text.
    Link(PathBuf),
}

/// One entry of a skeleton: its path relative to the skeleton root (`/`-separated; empty when the
/// source is a single file), and where it is.
pub(super) struct Entry {
    pub rel: String,
    pub path: PathBuf,
    pub kind: Kind,
}

/// Every entry under `src` (a directory, or one file), sorted by path, dot files included.
pub(super) fn list(src: &Path) -> Result<Vec<Entry>, ActionError> {
    let mut out = Vec::new();
    if !std::fs::symlink_metadata(src).map_err(shown(""))?.is_dir() {
        out.push(entry(src, src, String::new())?);
        return Ok(out);
    }
    let mut stack = vec![(src.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(shown(&prefix))?.flatten() {
            let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
            let ent = entry(src, &e.path(), rel)?;
            if matches!(ent.kind, Kind::Dir) {
                stack.push((ent.path.clone(), format!("{}/", ent.rel)));
            }
            out.push(ent);
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn entry(root: &Path, path: &Path, rel: String) -> Result<Entry, ActionError> {
    let meta = std::fs::symlink_metadata(path).map_err(shown(&rel))?;
    let kind = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(shown(&rel))?;
        // A link is copied as a link, but only to a regular file of the skeleton: never to a
        // directory (a loop), to nothing, or out of the skeleton (checked by the read policy).
        let inside =
            !target.is_absolute() && Policy::default().check_file(path, root, &rel).is_ok();
        if !inside {
            return Err(ActionError::Input(format!(
                "{rel}: a symbolic link in a skeleton must point to a file of the skeleton"
            )));
        }
        Kind::Link(target)
    } else if meta.is_dir() {
        Kind::Dir
    } else if meta.is_file() {
        Kind::File(meta.permissions().mode() & 0o777)
    } else {
        return Err(ActionError::Input(format!("{rel}: not a regular file")));
    };
    Ok(Entry {
        rel,
        path: path.to_path_buf(),
        kind,
    })
}

/// Opens a skeleton file through the read policy: canonical, inside `root`, regular, not followed
/// if swapped for a link since the listing.
pub(super) fn open(root: &Path, e: &Entry) -> Result<File, ActionError> {
    let canonical = Policy::default()
        .check_file(&e.path, root, &e.rel)
        .map_err(|r| ActionError::Input(r.to_string()))?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(canonical)
        .map_err(shown(&e.rel))?;
    if !file.metadata().map_err(shown(&e.rel))?.is_file() {
        return Err(ActionError::Input(format!("{}: not a regular file", e.rel)));
    }
    Ok(file)
}

/// Reads an opened skeleton file, refusing more than `cap` bytes.
pub(super) fn read_capped(file: File, rel: &str, cap: usize) -> Result<Vec<u8>, ActionError> {
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(shown(rel))?;
    if bytes.len() > cap {
        return Err(ActionError::Failed(format!(
            "{rel}: larger than {cap} bytes (scaffolder.maxFileBytes)"
        )));
    }
    Ok(bytes)
}

/// The error for a file operation on `rel` (a path relative to the skeleton or the workspace).
pub(super) fn shown(rel: &str) -> impl Fn(std::io::Error) -> ActionError + '_ {
    move |e| {
        ActionError::File(
            if rel.is_empty() {
                ".".into()
            } else {
                rel.into()
            },
            e,
        )
    }
}

/// Writes into the workspace: every directory is created or checked one component at a time (a link
/// on the way must resolve inside the workspace), files are never written through a link.
pub(super) struct Out {
    /// The workspace as the task names it, and as it resolves.
    base: PathBuf,
    canon: PathBuf,
    /// Whether an existing file is replaced (else it is kept, as Backstage's `fetch:template` does).
    pub replace: bool,
}

impl Out {
    pub fn new(workspace: &Path, replace: bool) -> Result<Self, ActionError> {
        std::fs::create_dir_all(workspace).map_err(shown("workspace"))?;
        let canon = workspace.canonicalize().map_err(shown("workspace"))?;
        Ok(Self {
            base: workspace.to_path_buf(),
            canon,
            replace,
        })
    }

    /// `path` (inside the workspace, as [`inside`] made it) relative to the workspace, for messages.
    fn rel<'a>(&self, path: &'a Path) -> Result<&'a Path, ActionError> {
        path.strip_prefix(&self.base)
            .map_err(|_| ActionError::Escapes(path.display().to_string()))
    }

    /// Creates the directory `path` and its parents; returns where it resolves.
    pub fn dir(&self, path: &Path) -> Result<PathBuf, ActionError> {
        let rel = self.rel(path)?;
        let text = rel.display().to_string();
        let mut cur = self.canon.clone();
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(ActionError::Escapes(text));
            };
            cur.push(name);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    let to = cur.canonicalize().map_err(shown(&text))?;
                    if !to.starts_with(&self.canon) || !to.is_dir() {
                        return Err(ActionError::Escapes(text));
                    }
                    cur = to;
                }
                Ok(_) => {
                    return Err(ActionError::Input(format!("{text}: a file is in the way")));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&cur).map_err(shown(&text))?;
                }
                Err(e) => return Err(ActionError::File(text, e)),
            }
        }
        Ok(cur)
    }

    /// Where the file `path` goes, its parent created; `None` when it exists and is kept.
    fn place(&self, path: &Path) -> Result<Option<PathBuf>, ActionError> {
        let text = self.rel(path)?.display().to_string();
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(ActionError::Input(format!("{text}: not a file name")));
        };
        let full = self.dir(parent)?.join(name);
        match std::fs::symlink_metadata(&full) {
            Ok(_) if !self.replace => Ok(None),
            Ok(m) if m.is_dir() => Err(ActionError::Input(format!("{text}: is a directory"))),
            Ok(_) => {
                std::fs::remove_file(&full).map_err(shown(&text))?;
                Ok(Some(full))
            }
            Err(_) => Ok(Some(full)),
        }
    }

    /// Writes `bytes` (or what `from` holds) to the file `path` with permission bits `mode`.
    /// Returns false when an existing file was kept.
    pub fn file(&self, path: &Path, from: Content, mode: u32) -> Result<bool, ActionError> {
        let Some(full) = self.place(path)? else {
            return Ok(false);
        };
        let text = self.rel(path)?.display().to_string();
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&full)
            .map_err(shown(&text))?;
        match from {
            Content::Bytes(b) => std::io::Write::write_all(&mut out, &b),
            Content::File(mut f) => std::io::copy(&mut f, &mut out).map(|_| ()),
        }
        .map_err(shown(&text))?;
        // The umask does not decide: the skeleton's bits do (setuid and sticky bits never).
        out.set_permissions(Permissions::from_mode(mode & 0o777))
            .map_err(shown(&text))?;
        Ok(true)
    }

    /// Makes the link `path` to `target`; it must resolve to a file inside the workspace (else it
    /// is removed and refused). Returns false when an existing file was kept.
    pub fn link(&self, path: &Path, target: &Path) -> Result<bool, ActionError> {
        let Some(full) = self.place(path)? else {
            return Ok(false);
        };
        let text = self.rel(path)?.display().to_string();
        std::os::unix::fs::symlink(target, &full).map_err(shown(&text))?;
        let ok = full
            .canonicalize()
            .map(|c| c.starts_with(&self.canon) && c.is_file())
            .unwrap_or(false);
        if !ok {
            let _ = std::fs::remove_file(&full);
            return Err(ActionError::Input(format!(
                "{text}: the symbolic link would not point to a file of the workspace"
            )));
        }
        Ok(true)
    }
}

/// What a written file holds: rendered bytes, or a skeleton file copied as is.
pub(super) enum Content {
    Bytes(Vec<u8>),
    File(File),
}

/// Whether a rendered output path has an empty segment (Backstage skips such entries: a name that
/// rendered to nothing means "leave this out").
pub(super) fn skipped(rendered: &str) -> bool {
    rendered.is_empty() || rendered.split('/').any(str::is_empty)
}

/// Copies the entries; `place` gives each entry's output path relative to `dst` (`None`: skip it) and
/// `content` what a file holds (`None`: its bytes as is). Links are made last, so their targets exist.
pub(super) fn write_tree(
    root: &Path,
    entries: &[Entry],
    dst: &Path,
    out: &Out,
    place: &dyn Fn(&Entry) -> Result<Option<String>, ActionError>,
    content: &dyn Fn(&Entry, File) -> Result<Content, ActionError>,
) -> Result<usize, ActionError> {
    let mut n = 0;
    let mut links = Vec::new();
    for e in entries {
        let Some(rel) = place(e)? else { continue };
        let to = if rel.is_empty() {
            dst.to_path_buf()
        } else {
            inside(dst, &rel)?
        };
        match &e.kind {
            Kind::Dir => {
                if out.replace || std::fs::symlink_metadata(&to).is_err() {
                    out.dir(&to)?;
                }
            }
            Kind::File(mode) => {
                let c = content(e, open(root, e)?)?;
                n += usize::from(out.file(&to, c, *mode)?);
            }
            Kind::Link(target) => links.push((to, target)),
        }
    }
    for (to, target) in links {
        n += usize::from(out.link(&to, target)?);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_segment_skips_the_entry() {
        assert!(skipped(""));
        assert!(skipped("/x.txt"));
        assert!(skipped("a//x.txt"));
        assert!(skipped("a/"));
        assert!(!skipped("com/example/app/Main.java"));
    }

    #[test]
    fn writes_never_follow_a_link_out_of_the_workspace() {
        let (ws, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::os::unix::fs::symlink(outside.path(), ws.path().join("out")).unwrap();
        let out = Out::new(ws.path(), true).unwrap();
        let to = ws.path().join("out/x.txt");
        let err = out.file(&to, Content::Bytes(b"x".to_vec()), 0o644);
        assert!(matches!(err, Err(ActionError::Escapes(_))), "{err:?}");
        assert!(!outside.path().join("x.txt").exists());
        let err = out.link(&ws.path().join("l"), Path::new("../../etc/hostname"));
        assert!(err.is_err());
        assert!(std::fs::symlink_metadata(ws.path().join("l")).is_err());
    }
}
