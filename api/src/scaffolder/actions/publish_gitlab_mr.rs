//! `publish:gitlab:merge-request`: commits the workspace (or `sourcePath`) under `targetPath` on a new
//! branch of an existing project of a configured `integrations.gitlab` host (cloned and pushed over git
//! smart HTTP), and opens a merge request for it (`POST /projects/:id/merge_requests`), as Backstage's
//! action does.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::git_push::{push_change, Change, Commit, GitAuth};
use super::github_api::branch;
use super::gitlab_api::{Gitlab, GitlabIntegration};
use super::inputs::Inputs;
use super::rest::{query, segment, Api};
use super::{Action, ActionContext, ActionError};
use crate::confine::Policy;

/// The inputs this action takes (Backstage's others are refused by name).
const SUPPORTED: &str = "repoUrl title description branchName targetBranchName sourcePath targetPath \
    token commitAction projectid removeSourceBranch assignee reviewers assignReviewersFromApprovalRules \
    labels gitAuthorName gitAuthorEmail";

/// Opens merge requests on the configured GitLab hosts only.
pub struct PublishGitlabMergeRequest {
    gitlab: Gitlab,
}

impl PublishGitlabMergeRequest {
    /// The action for `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's hosts allowed.
    pub fn new(policy: &Policy, integrations: &[GitlabIntegration]) -> Self {
        Self {
            gitlab: Gitlab::new(policy, integrations),
        }
    }
}

/// The user id of `username` (`GET /users?username=`), or a warning in the log.
async fn user_id(cx: &ActionContext, api: &Api<'_>, username: &str) -> Option<Value> {
    let path = format!("/users?username={}", query(username));
    match api.call(Method::GET, &path, None).await {
        Ok(users) if users[0]["id"].is_number() => Some(users[0]["id"].clone()),
        Ok(_) => {
            cx.log
                .log(&format!(
                    "warning: no GitLab user {username}; proceeding without them"
                ))
                .await;
            None
        }
        Err(e) => {
            cx.log
                .log(&format!(
                    "warning: failed to find the GitLab user id of {username}: {e}; proceeding without them"
                ))
                .await;
            None
        }
    }
}

/// `labels`: a string or a list of strings, sent comma-separated.
fn labels(input: &Inputs<'_>) -> Result<Option<String>, ActionError> {
    match input.input.get("labels") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Ok(input.strings("labels")?.map(|l| l.join(","))),
    }
}

/// Fails as Backstage does when `name` already exists in the project (naming its merge request, if any).
async fn refuse_existing(api: &Api<'_>, id: &str, name: &str) -> Result<(), ActionError> {
    let path = format!("/projects/{id}/repository/branches/{}", segment(name));
    let Ok(found) = api.call(Method::GET, &path, None).await else {
        return Ok(());
    };
    let web = found["web_url"].as_str().unwrap_or(name);
    let mrs = format!(
        "/projects/{id}/merge_requests?source_branch={}",
        query(name)
    );
    let open = api
        .call(Method::GET, &mrs, None)
        .await
        .unwrap_or(Value::Null);
    let text = match open[0]["web_url"].as_str() {
        Some(mr) => format!(
            "The branch creation failed because the branch already exists at: {web}. Additionally, there is a Merge Request for this branch: {mr}"
        ),
        None => format!("The branch creation failed because the branch already exists at: {web}."),
    };
    Err(ActionError::Input(text))
}

/// Refuses the options this action takes only at their defaults.
fn check_options(input: &Inputs<'_>) -> Result<(), ActionError> {
    const ID: &str = "publish:gitlab:merge-request";
    input.only(ID, "assignReviewersFromApprovalRules", &json!(false))?;
    match input.str("commitAction")? {
        None | Some("auto" | "create" | "update") => Ok(()),
        Some(a) => Err(ActionError::Input(format!(
            "{ID} does not support input.commitAction: {a} (only auto, create, update)"
        ))),
    }
}

/// The `POST /projects/:id/merge_requests` body for `[source, target, title]`.
async fn mr_body(
    cx: &ActionContext,
    api: &Api<'_>,
    input: &Inputs<'_>,
    [source, target, title]: [&str; 3],
) -> Result<Value, ActionError> {
    let mut body = json!({
        "source_branch": source, "target_branch": target, "title": title,
        "description": input.str("description")?,
        "remove_source_branch": input.bool_or("removeSourceBranch", false)?,
    });
    if let Some(a) = input.str("assignee")? {
        if let Some(uid) = user_id(cx, api, a).await {
            body["assignee_id"] = uid;
        }
    }
    if let Some(names) = input.strings("reviewers")? {
        let mut ids = Vec::new();
        for r in &names {
            ids.extend(user_id(cx, api, r).await);
        }
        body["reviewer_ids"] = json!(ids);
    }
    if let Some(l) = labels(input)? {
        body["labels"] = json!(l);
    }
    Ok(body)
}

#[async_trait::async_trait]
impl Action for PublishGitlabMergeRequest {
    fn id(&self) -> &'static str {
        "publish:gitlab:merge-request"
    }

    fn publishes(&self) -> bool {
        true
    }

    fn dry_run_output(&self, _input: &Value) -> Map<String, Value> {
        super::example_output(
            &[
                "targetBranchName",
                "projectid",
                "projectPath",
                "mergeRequestUrl",
            ],
            &[],
        )
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        const ID: &str = "publish:gitlab:merge-request";
        let input_value = cx.input.clone();
        let input = Inputs::new(ID, &input_value, SUPPORTED)?;
        check_options(&input)?;
        let target = self.gitlab.target(&input)?;
        let repo_id = match (&target.project, &target.owner, &target.repo) {
            (Some(p), _, _) => p.clone(),
            (None, Some(o), Some(r)) => format!("{o}/{r}"),
            _ => return Err(ActionError::input("input.repoUrl: missing owner or repo")),
        };
        let (title, branch_name) = (input.required("title")?, input.required("branchName")?);
        let branch_name = branch("branchName", branch_name)?;
        let api = target.api(&self.gitlab);
        let id = segment(&repo_id);
        let project = api
            .call(Method::GET, &format!("/projects/{id}"), None)
            .await
            .map_err(ActionError::Failed)?;
        let base = match input.str("targetBranchName")? {
            Some(b) => b.to_string(),
            None => project["default_branch"].as_str().map(str::to_string).ok_or_else(|| {
                ActionError::input("The branch creation failed. Target branch was not provided, and could not find default branch from project settings.")
            })?,
        };
        let base = branch("targetBranchName", &base)?;
        let remote = project["http_url_to_repo"]
            .as_str()
            .ok_or_else(|| ActionError::input("the project has no http_url_to_repo"))?;
        refuse_existing(&api, &id, branch_name).await?;
        let target_path = input.str("targetPath")?;
        // As in Backstage, an absent `sourcePath` falls back to `targetPath`.
        let source = input.str("sourcePath")?.or(target_path).unwrap_or(".");
        let source = cx.workspace_path(source)?;
        let change = Change {
            remote,
            base,
            branch: branch_name,
            source: &source,
            target_path,
            when_empty: true,
        };
        let commit = Commit {
            name: input.str_or("gitAuthorName", "Greenroom")?,
            email: input.str_or("gitAuthorEmail", "scaffolder@greenroom.invalid")?,
            message: title,
        };
        let auth = GitAuth::basic("oauth2", &target.token);
        push_change(cx, &self.gitlab.client.policy, &change, &commit, &auth).await?;
        let body = mr_body(cx, &api, &input, [branch_name, base, title]).await?;
        let path = format!("/projects/{id}/merge_requests");
        let mr = api
            .call(Method::POST, &path, Some(body))
            .await
            .map_err(|e| ActionError::Failed(format!("Merge request creation failed. {e}")))?;
        cx.output.insert("projectid".into(), json!(repo_id));
        cx.output.insert("targetBranchName".into(), json!(base));
        cx.output.insert("projectPath".into(), json!(repo_id));
        cx.output
            .insert("mergeRequestUrl".into(), mr["web_url"].clone());
        Ok(())
    }
}
