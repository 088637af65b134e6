//! Scaffolder actions behind one trait, in a registry teams can add their own to. Each built-in action
//! lives in its own file.

pub mod backstage_request;
pub mod catalog_fetch;
pub mod catalog_register;
pub mod catalog_write;
pub mod debug_log;
pub mod debug_wait;
pub mod fetch_plain;
pub mod fetch_template;
mod files;
pub mod fs_delete;
pub mod fs_rename;
mod git_push;
pub mod github_api;
pub mod gitlab_api;
mod inputs;
pub mod publish_git;
pub mod publish_github;
pub mod publish_github_pr;
pub mod publish_gitlab;
pub mod publish_gitlab_mr;
mod rest;
pub mod roadie_fs;
pub mod roadie_jsonata;
pub mod roadie_merge;
pub mod roadie_serialize;
mod roadie_text;
mod url_tree;

use crate::scaffolder::StepState;
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Why an action failed: its text fails the step (and the task).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// An input is missing or not of the shape the action takes (the text names it).
    #[error("{0}")]
    Input(String),
    /// A path that would leave the directory it must stay in.
    #[error("'{0}' leaves the directory it must stay in")]
    Escapes(String),
    /// A file could not be read or written: the path as shown, and why.
    #[error("{0}: {1}")]
    File(String, std::io::Error),
    /// What the action drives (git, the catalog, a provider, the renderer, a glob) failed, in its words.
    #[error("{0}")]
    Failed(String),
    /// A provider-domain step it drives (the `git` CLI) failed, in that domain's words.
    #[error(transparent)]
    Provider(#[from] crate::providers::ProviderError),
}

impl ActionError {
    pub fn input(text: impl Into<String>) -> Self {
        ActionError::Input(text.into())
    }
}

/// Where a run's events and step states go (`scaffolder::run` implements it for the task's rows and for a
/// dry run's memory).
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    async fn event(&self, step: Option<&str>, kind: &str, message: &str);
    async fn steps(&self, state: &[StepState]);
}

/// Writes a step's log lines to its run's log (the task's events, or a dry run's memory).
#[derive(Clone)]
pub struct Logger {
    pub sink: Arc<dyn Sink>,
    pub step_id: String,
}

impl Logger {
    pub async fn log(&self, message: &str) {
        self.sink.event(Some(&self.step_id), "log", message).await;
    }
}

/// What an action gets: its rendered input, the task's workspace, and where to put its output.
pub struct ActionContext {
    pub input: Value,
    /// The task's working directory (a temp dir removed after the task).
    pub workspace: PathBuf,
    /// The directory of the template's file, for `fetch:*` (absent for templates from URL sources).
    pub template_dir: Option<PathBuf>,
    /// What `fetch:*` may read besides the template's directory: the checkout of a template from a git
    /// source (its paths may climb to the repository's root); `None`: only the template's directory.
    pub template_root: Option<PathBuf>,
    /// The URL of the template's file when it was read from a `url` source (relative `fetch:*`
    /// paths are fetched from the repository tree it names).
    pub template_url: Option<String>,
    pub output: Map<String, Value>,
    pub log: Logger,
    /// The task's id (a dry run's is `dry-run`).
    pub task_id: String,
    pub db: DatabaseConnection,
    /// The token subject that created the task.
    pub subject: String,
    /// Who the task acts as: its creator, with the scopes and groups their token had when they
    /// created it (no scopes for a task stored without them).
    pub caller: crate::auth::Caller,
    /// A dry run (actions that publish are skipped before they run; others may skip their writes).
    pub dry_run: bool,
}

impl ActionContext {
    /// A string input, or an error naming it.
    pub fn input_str(&self, key: &str) -> Result<&str, ActionError> {
        self.input
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| ActionError::Input(format!("input.{key} is required (a string)")))
    }

    /// `relative` inside the workspace; paths that leave it are refused.
    pub fn workspace_path(&self, relative: &str) -> Result<PathBuf, ActionError> {
        inside(&self.workspace, relative)
    }
}

/// `relative` joined to `root`, refusing absolute paths and `..` that would leave `root`.
pub fn inside(root: &Path, relative: &str) -> Result<PathBuf, ActionError> {
    let rel = Path::new(relative);
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::Normal(p) => {
                out.push(p);
                depth += 1;
            }
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => return Err(ActionError::Escapes(relative.to_string())),
        }
    }
    Ok(out)
}

#[async_trait::async_trait]
pub trait Action: Send + Sync {
    /// The id templates name it by, e.g. `fetch:template`.
    fn id(&self) -> &'static str;
    /// True for actions a dry run skips (publishing, registering).
    fn publishes(&self) -> bool {
        false
    }
    /// The scope a caller must hold to start a task with a step of this action, beyond
    /// `scaffolder:run` (none by default).
    fn scope(&self) -> Option<crate::auth::Scope> {
        None
    }
    /// What a dry run outputs for a step of this action it skips (with its rendered `input`): as
    /// Backstage's runner does for actions without dry-run support, an example of each output (`<example>`
    /// for text, `0` for numbers), or the outputs the action's own dry run gives.
    fn dry_run_output(&self, _input: &Value) -> Map<String, Value> {
        Map::new()
    }
    /// Runs the action; a returned error fails the step (and the task) with that message.
    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError>;
}

/// Example outputs as Backstage's dry run makes them from an output schema: `<example>` for each of
/// `strings`, `0` for each of `numbers`.
pub fn example_output(strings: &[&str], numbers: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for s in strings {
        out.insert((*s).into(), Value::from("<example>"));
    }
    for n in numbers {
        out.insert((*n).into(), Value::from(0));
    }
    out
}

/// A step's output: its one run's, or with `each` each output name holding the list of the runs' values.
pub(crate) fn collect_outputs(
    each: bool,
    runs: impl IntoIterator<Item = Map<String, Value>>,
) -> Map<String, Value> {
    let mut output = Map::new();
    for run in runs {
        if !each {
            output = run;
            continue;
        }
        for (k, v) in run {
            if let Value::Array(list) = output.entry(k).or_insert_with(|| Value::Array(Vec::new()))
            {
                list.push(v);
            }
        }
    }
    output
}

/// Actions by id.
#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
    /// The catalog's sources, for checkouts of templates read from git (`None`: none are made).
    pub sources: Option<Arc<crate::providers::Registry>>,
    /// Greenroom's own backend APIs for `http:backstage:request`, set once the server has built them.
    pub backend: backstage_request::BackendSlot,
}

impl Registry {
    /// The built-in actions; `publish:git` and `catalog:register` read and connect through `sources`
    /// (their read policy; `catalog:register` their timeouts too).
    pub fn reading(sources: &Arc<crate::providers::Registry>) -> Self {
        let mut r = Self {
            sources: Some(sources.clone()),
            ..Self::default()
        };
        r.add(Arc::new(debug_log::Log));
        r.add(Arc::new(debug_wait::Wait));
        r.add(Arc::new(fs_rename::Rename));
        r.add(Arc::new(fs_delete::Delete));
        r.add(Arc::new(publish_git::PublishGit {
            policy: Arc::new(sources.resolver.policy().clone()),
        }));
        r.add(Arc::new(catalog_register::Register {
            sources: sources.clone(),
        }));
        r.add(Arc::new(catalog_write::Write));
        r.add(Arc::new(catalog_fetch::Fetch));
        r.add(Arc::new(roadie_fs::Write));
        r.add(Arc::new(roadie_fs::Append));
        r.add(Arc::new(roadie_fs::Parse));
        r.add(Arc::new(roadie_serialize::SerializeJson));
        r.add(Arc::new(roadie_serialize::SerializeYaml));
        r.add(Arc::new(roadie_merge::Merge));
        r.add(Arc::new(roadie_jsonata::Jsonata));
        r.add(Arc::new(roadie_jsonata::JsonTransform));
        r.add(Arc::new(roadie_jsonata::YamlTransform));
        r.add(Arc::new(backstage_request::BackstageRequest::new(
            r.backend.clone(),
        )));
        r.integrate(sources, &[], &[]);
        r
    }

    /// [`Registry::reading`] with the `publish:github*` and `publish:gitlab*` actions knowing the
    /// configured integrations (`integrations.github`, `integrations.gitlab`; their hosts are allowed
    /// for those actions only).
    pub fn integrated(
        sources: &Arc<crate::providers::Registry>,
        github: &[github_api::GithubIntegration],
        gitlab: &[gitlab_api::GitlabIntegration],
    ) -> Self {
        let mut r = Self::reading(sources);
        r.integrate(sources, github, gitlab);
        r
    }

    fn integrate(
        &mut self,
        sources: &Arc<crate::providers::Registry>,
        github: &[github_api::GithubIntegration],
        gitlab: &[gitlab_api::GitlabIntegration],
    ) {
        let policy = sources.resolver.policy();
        // Skeletons named by URL are fetched with the integrations' hosts allowed and their tokens.
        let hosts: Vec<(String, &'static str, Option<String>)> = github
            .iter()
            .map(|g| (g.host.clone(), "x-access-token", g.token.clone()))
            .chain(
                gitlab
                    .iter()
                    .map(|g| (g.host.clone(), "oauth2", g.token.clone())),
            )
            .collect();
        let trees = Arc::new(url_tree::Trees::new(
            policy,
            &hosts,
            sources.timeout_for(""),
        ));
        self.add(Arc::new(fetch_plain::FetchPlain {
            trees: trees.clone(),
        }));
        self.add(Arc::new(fetch_template::FetchTemplate { trees }));
        self.add(Arc::new(publish_github::PublishGithub::new(policy, github)));
        self.add(Arc::new(publish_github_pr::PublishGithubPullRequest::new(
            policy, github,
        )));
        self.add(Arc::new(publish_gitlab::PublishGitlab::new(policy, gitlab)));
        self.add(Arc::new(publish_gitlab_mr::PublishGitlabMergeRequest::new(
            policy, gitlab,
        )));
    }

    /// Adds (or replaces) an action.
    pub fn add(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.id(), action);
    }

    pub fn get(&self, id: &str) -> Option<Arc<dyn Action>> {
        self.actions.get(id).cloned()
    }

    pub fn ids(&self) -> Vec<&'static str> {
        self.actions.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_their_root() {
        let root = Path::new("/w");
        assert_eq!(inside(root, "a/b/../c").unwrap(), PathBuf::from("/w/a/c"));
        assert!(inside(root, "../../etc/passwd").is_err());
        assert!(inside(root, "a/../../x").is_err());
        assert!(inside(root, "/etc/passwd").is_err());
        assert_eq!(
            inside(root, "../x").unwrap_err().to_string(),
            "'../x' leaves the directory it must stay in"
        );
    }
}
