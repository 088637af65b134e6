//! `publish:gitlab`: creates a project through the REST API (v4) of a configured `integrations.gitlab`
//! host in the namespace `repoUrl` names (looked up with `GET /namespaces/:id`), pushes the workspace (or
//! `sourcePath`) to its `http_url_to_repo` over git smart HTTP, then creates and protects `branches` and
//! sets `projectVariables`, as Backstage's action does.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::git_push::{init_and_push, Commit, GitAuth};
use super::github_api::branch;
use super::gitlab_api::{Gitlab, GitlabIntegration, Target};
use super::inputs::Inputs;
use super::rest::{query, segment, Api};
use super::{Action, ActionContext, ActionError};
use crate::confine::Policy;

/// The inputs this action takes (Backstage's others are refused by name).
const SUPPORTED: &str = "repoUrl defaultBranch repoVisibility sourcePath skipExisting token \
    gitCommitMessage gitAuthorName gitAuthorEmail signCommit setUserAsOwner topics settings branches \
    projectVariables";

/// Creates projects on the configured GitLab hosts only.
pub struct PublishGitlab {
    gitlab: Gitlab,
}

impl PublishGitlab {
    /// The action for `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's hosts allowed.
    pub fn new(policy: &Policy, integrations: &[GitlabIntegration]) -> Self {
        Self {
            gitlab: Gitlab::new(policy, integrations),
        }
    }
}

/// The created (or, with `skipExisting`, found) project.
struct Project {
    id: Value,
    http_url_to_repo: String,
    default_branch: Option<String>,
}

impl Project {
    fn of(v: &Value) -> Result<Self, ActionError> {
        let url = v["http_url_to_repo"]
            .as_str()
            .ok_or_else(|| ActionError::input("the project has no http_url_to_repo"))?;
        Ok(Self {
            id: v["id"].clone(),
            http_url_to_repo: url.to_string(),
            default_branch: v["default_branch"].as_str().map(str::to_string),
        })
    }

    fn remote_url(&self) -> &str {
        self.http_url_to_repo.trim_end_matches(".git")
    }

    fn path(&self) -> String {
        segment(&match &self.id {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        })
    }
}

/// `POST /projects`'s body: the name, namespace and visibility, `topics`, then `settings` as given
/// (GitLab's create-project attributes; `settings.visibility` and `settings.topics` win).
fn create_body(input: &Inputs<'_>, namespace_id: &Value, repo: &str) -> Result<Value, ActionError> {
    let visibility = input.str_or("repoVisibility", "private")?;
    if !["private", "internal", "public"].contains(&visibility) {
        return Err(ActionError::Input(format!(
            "input.repoVisibility must be private, internal or public, not '{visibility}'"
        )));
    }
    let mut body = Map::new();
    body.insert("namespace_id".into(), namespace_id.clone());
    body.insert("name".into(), json!(repo));
    body.insert("visibility".into(), json!(visibility));
    if let Some(topics) = input.strings("topics")?.filter(|t| !t.is_empty()) {
        body.insert("topics".into(), json!(topics));
    }
    match input.input.get("settings") {
        None | Some(Value::Null) => {}
        Some(Value::Object(settings)) => {
            for (k, v) in settings {
                body.insert(k.clone(), v.clone());
            }
        }
        Some(_) => return Err(ActionError::input("input.settings must be an object")),
    }
    Ok(Value::Object(body))
}

#[async_trait::async_trait]
impl Action for PublishGitlab {
    fn id(&self) -> &'static str {
        "publish:gitlab"
    }

    fn publishes(&self) -> bool {
        true
    }

    fn dry_run_output(&self, _input: &Value) -> Map<String, Value> {
        let mut out = super::example_output(
            &["remoteUrl", "repoContentsUrl", "commitHash"],
            &["projectId"],
        );
        out.insert("created".into(), json!(false));
        out
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let input_value = cx.input.clone();
        let input = Inputs::new("publish:gitlab", &input_value, SUPPORTED)?;
        input.only("publish:gitlab", "signCommit", &json!(false))?;
        let target = self.gitlab.target(&input)?;
        let owner = target.owner()?.to_string();
        let repo = target
            .repo
            .clone()
            .ok_or_else(|| ActionError::input("input.repoUrl: missing repo"))?;
        let default_branch = branch("defaultBranch", input.str_or("defaultBranch", "master")?)?;
        let api = target.api(&self.gitlab);
        let (namespace_id, kind) = namespace(&api, &owner).await?;
        if input.bool_or("skipExisting", false)? {
            if let Some(p) = existing(&api, &owner, &kind, &repo).await? {
                cx.log
                    .log(&format!("Repo {repo} already exists in namespace {owner}."))
                    .await;
                let branch = p.default_branch.clone().unwrap_or_default();
                outputs(cx, &p, &branch, false);
                return Ok(());
            }
        }
        cx.log
            .log(&format!("Creating repo {repo} in namespace {owner}."))
            .await;
        let body = create_body(&input, &namespace_id, &repo)?;
        let created = api
            .call(Method::POST, "/projects", Some(body))
            .await
            .map_err(|e| ActionError::Failed(format!("Creating the project failed, {e}")))?;
        let project = Project::of(&created)?;
        if input.bool_or("setUserAsOwner", false)? {
            self.set_owner(&target, &api, &project).await?;
        }
        if !matches!(input.input.get("sourcePath"), Some(Value::Bool(false))) {
            let hash = self
                .push(cx, &input, &target, &project, default_branch)
                .await?;
            cx.output.insert("commitHash".into(), json!(hash));
            branches(cx, &api, &input, &project).await?;
        }
        variables(&api, &input, &project).await?;
        outputs(cx, &project, default_branch, true);
        Ok(())
    }
}

fn outputs(cx: &mut ActionContext, project: &Project, branch: &str, created: bool) {
    let remote = project.remote_url().to_string();
    cx.output.insert(
        "repoContentsUrl".into(),
        json!(format!("{remote}/-/blob/{branch}")),
    );
    cx.output.insert("remoteUrl".into(), json!(remote));
    cx.output.insert("projectId".into(), project.id.clone());
    cx.output.insert("created".into(), json!(created));
}

/// The namespace's id and kind (`group` or `user`), as `GET /namespaces/:id` gives them.
async fn namespace(api: &Api<'_>, owner: &str) -> Result<(Value, String), ActionError> {
    let path = format!("/namespaces/{}", segment(owner));
    match api.call(Method::GET, &path, None).await {
        Ok(ns) => Ok((
            ns["id"].clone(),
            ns["kind"].as_str().unwrap_or("group").to_string(),
        )),
        Err(e) if e.contains(": HTTP 404 ") => Err(ActionError::Input(format!(
            "The namespace {owner} is not found or the user doesn't have permissions to access it"
        ))),
        Err(e) => Err(ActionError::Failed(e)),
    }
}

/// The namespace's project whose path is `repo`, if any (`skipExisting`).
async fn existing(
    api: &Api<'_>,
    owner: &str,
    kind: &str,
    repo: &str,
) -> Result<Option<Project>, ActionError> {
    let of = if kind == "user" { "users" } else { "groups" };
    let path = format!("/{of}/{}/projects?search={}", segment(owner), query(repo));
    let found = api
        .call(Method::GET, &path, None)
        .await
        .map_err(ActionError::Failed)?;
    let list = found.as_array().cloned().unwrap_or_default();
    list.iter()
        .find(|p| p["path"] == repo)
        .map(Project::of)
        .transpose()
}

impl PublishGitlab {
    /// `setUserAsOwner`: the token's user (`GET /user`) becomes the project's owner (access level 50),
    /// added with the integration's own token, as Backstage does.
    async fn set_owner(
        &self,
        target: &Target<'_>,
        api: &Api<'_>,
        project: &Project,
    ) -> Result<(), ActionError> {
        let Some(admin_token) = target.integration.token.clone() else {
            return Ok(());
        };
        let user = api
            .call(Method::GET, "/user", None)
            .await
            .map_err(ActionError::Failed)?;
        let admin = Target {
            integration: target.integration,
            owner: None,
            repo: None,
            project: None,
            token: admin_token,
            oauth: false,
        };
        let path = format!("/projects/{}/members", project.path());
        let body = json!({"user_id": user["id"], "access_level": 50});
        admin
            .api(&self.gitlab)
            .call(Method::POST, &path, Some(body))
            .await
            .map(|_| ())
            .map_err(ActionError::Failed)
    }

    /// Commits the source directory and pushes it as `oauth2:<token>`.
    async fn push(
        &self,
        cx: &ActionContext,
        input: &Inputs<'_>,
        target: &Target<'_>,
        project: &Project,
        branch: &str,
    ) -> Result<String, ActionError> {
        let source = match input.input.get("sourcePath") {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) | Some(Value::Bool(true)) => ".",
            Some(_) => {
                return Err(ActionError::input(
                    "input.sourcePath must be a string or a boolean",
                ))
            }
        };
        let dir = cx.workspace_path(source)?;
        let commit = Commit {
            name: input.str_or("gitAuthorName", "Greenroom")?,
            email: input.str_or("gitAuthorEmail", "scaffolder@greenroom.invalid")?,
            message: input.str_or("gitCommitMessage", "initial commit")?,
        };
        let auth = GitAuth::basic("oauth2", &target.token);
        let policy = &self.gitlab.client.policy;
        let remote = &project.http_url_to_repo;
        init_and_push(cx, policy, &dir, remote, branch, &commit, &auth).await
    }
}

/// `branches`: each `{name, create, ref, protect}` created from `ref` and/or protected.
async fn branches(
    cx: &ActionContext,
    api: &Api<'_>,
    input: &Inputs<'_>,
    project: &Project,
) -> Result<(), ActionError> {
    let list = match input.input.get("branches") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(l)) => l.clone(),
        Some(_) => return Err(ActionError::input("input.branches must be a list")),
    };
    for b in &list {
        let entry = Inputs::new("publish:gitlab branches[]", b, "name protect create ref")?;
        let name = branch("branches[].name", entry.required("name")?)?;
        let id = project.path();
        if entry.bool_or("create", false)? {
            let from = branch("branches[].ref", entry.str_or("ref", "master")?)?;
            let path = format!(
                "/projects/{id}/repository/branches?branch={}&ref={}",
                query(name),
                query(from)
            );
            api.call(Method::POST, &path, None).await.map_err(|e| {
                ActionError::Failed(format!("Branch creation failed for {name}. {e}"))
            })?;
            cx.log
                .log(&format!("Branch {name} created with ref {from}"))
                .await;
        }
        if entry.bool_or("protect", false)? {
            let path = format!("/projects/{id}/protected_branches?name={}", query(name));
            api.call(Method::POST, &path, None).await.map_err(|e| {
                ActionError::Failed(format!("Branch protection failed for {name}. {e}"))
            })?;
            cx.log.log(&format!("Branch {name} protected")).await;
        }
    }
    Ok(())
}

/// `projectVariables`: each created with Backstage's defaults.
async fn variables(
    api: &Api<'_>,
    input: &Inputs<'_>,
    project: &Project,
) -> Result<(), ActionError> {
    let list = match input.input.get("projectVariables") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(l)) => l.clone(),
        Some(_) => return Err(ActionError::input("input.projectVariables must be a list")),
    };
    let keys = "key value description variable_type protected masked raw environment_scope";
    for v in &list {
        let var = Inputs::new("publish:gitlab projectVariables[]", v, keys)?;
        let key = var.required("key")?;
        let body = json!({
            "key": key,
            "value": var.required("value")?,
            "description": var.str("description")?,
            "variable_type": var.str_or("variable_type", "env_var")?,
            "protected": var.bool_or("protected", false)?,
            "masked": var.bool_or("masked", false)?,
            "raw": var.bool_or("raw", false)?,
            "environment_scope": var.str_or("environment_scope", "*")?,
        });
        let path = format!("/projects/{}/variables", project.path());
        api.call(Method::POST, &path, Some(body))
            .await
            .map_err(|e| {
                ActionError::Failed(format!(
                    "Environment variable creation failed for {key}. {e}"
                ))
            })?;
    }
    Ok(())
}
