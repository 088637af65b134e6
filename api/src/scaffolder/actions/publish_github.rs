//! `publish:github`: creates a repository through the REST API of a configured `integrations.github` host,
//! sets its topics and access, pushes the workspace (or `sourcePath`) to its `clone_url` over git smart
//! HTTP, and protects its default branch, as Backstage's action does. Every connection goes through the
//! read policy, with the configured integration hosts allowed.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::git_push::{init_and_push, Commit, GitAuth};
use super::github_api::{branch, valid_name, Github};
use super::inputs::Inputs;
use super::rest::Api;
use super::{Action, ActionContext, ActionError};
use crate::confine::Policy;

pub use super::github_api::GithubIntegration;

/// The inputs this action takes (Backstage's others are refused by name).
const SUPPORTED: &str = "repoUrl description homepage access repoVisibility defaultBranch \
    protectDefaultBranch protectEnforceAdmins requireCodeOwnerReviews dismissStaleReviews \
    requiredApprovingReviewCount requiredStatusCheckContexts requireBranchesToBeUpToDate \
    requiredConversationResolution deleteBranchOnMerge allowMergeCommit allowSquashMerge \
    squashMergeCommitTitle squashMergeCommitMessage allowRebaseMerge allowAutoMerge hasProjects hasWiki \
    hasIssues gitCommitMessage gitAuthorName gitAuthorEmail sourcePath token topics";

/// Creates repositories on the configured GitHub hosts only.
pub struct PublishGithub {
    github: Github,
}

impl PublishGithub {
    /// The action for `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's host and API base URL allowed.
    pub fn new(policy: &Policy, integrations: &[GithubIntegration]) -> Self {
        Self {
            github: Github::new(policy, integrations),
        }
    }
}

impl Inputs<'_> {
    /// The `POST …/repos` body (only what the input sets, plus Backstage's defaults).
    fn create_body(&self, name: &str, org: bool) -> Result<Value, ActionError> {
        let visibility = self.str_or("repoVisibility", "private")?;
        if !["private", "internal", "public"].contains(&visibility) {
            return Err(ActionError::Input(format!(
                "input.repoVisibility must be private, internal or public, not '{visibility}'"
            )));
        }
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        body.insert("private".into(), json!(visibility == "private"));
        if org {
            body.insert("visibility".into(), json!(visibility));
        }
        for (key, field) in [
            ("description", "description"),
            ("homepage", "homepage"),
            ("squashMergeCommitTitle", "squash_merge_commit_title"),
            ("squashMergeCommitMessage", "squash_merge_commit_message"),
        ] {
            if let Some(v) = self.str(key)? {
                body.insert(field.into(), json!(v));
            }
        }
        for (key, field, default) in [
            ("deleteBranchOnMerge", "delete_branch_on_merge", Some(false)),
            ("allowMergeCommit", "allow_merge_commit", Some(true)),
            ("allowSquashMerge", "allow_squash_merge", Some(true)),
            ("allowRebaseMerge", "allow_rebase_merge", Some(true)),
            ("allowAutoMerge", "allow_auto_merge", Some(false)),
            ("hasProjects", "has_projects", None),
            ("hasWiki", "has_wiki", None),
            ("hasIssues", "has_issues", None),
        ] {
            if let Some(v) = self.bool(key)?.or(default) {
                body.insert(field.into(), json!(v));
            }
        }
        Ok(Value::Object(body))
    }

    /// The `PUT …/branches/{branch}/protection` body.
    fn protection_body(&self) -> Result<Value, ActionError> {
        let reviews = match self.input.get("requiredApprovingReviewCount") {
            None | Some(Value::Null) => 1,
            Some(v) => v.as_u64().filter(|n| *n <= 6).ok_or_else(|| {
                ActionError::input("input.requiredApprovingReviewCount must be 0 to 6")
            })?,
        };
        Ok(json!({
            "required_status_checks": {
                "strict": self.bool_or("requireBranchesToBeUpToDate", true)?,
                "contexts": self.strings("requiredStatusCheckContexts")?.unwrap_or_default(),
            },
            "enforce_admins": self.bool_or("protectEnforceAdmins", true)?,
            "required_pull_request_reviews": {
                "required_approving_review_count": reviews,
                "require_code_owner_reviews": self.bool_or("requireCodeOwnerReviews", false)?,
                "dismiss_stale_reviews": self.bool_or("dismissStaleReviews", false)?,
            },
            "restrictions": null,
            "required_conversation_resolution": self.bool_or("requiredConversationResolution", false)?,
        }))
    }
}

/// Creates `owner/repo` in the organisation, or for the authenticated user when `owner` is a user
/// (as Backstage decides it: `GET /users/{owner}`'s `type`).
async fn create(
    api: &Api<'_>,
    owner: &str,
    repo: &str,
    input: &Inputs<'_>,
) -> Result<Value, ActionError> {
    let user = api
        .call(Method::GET, &format!("/users/{owner}"), None)
        .await
        .map_err(ActionError::Failed)?;
    let kind = user["type"].as_str().unwrap_or("User").to_string();
    let org = kind == "Organization";
    let path = if org {
        format!("/orgs/{owner}/repos")
    } else {
        "/user/repos".to_string()
    };
    let body = input.create_body(repo, org)?;
    api.call(Method::POST, &path, Some(body))
        .await
        .map_err(|e| {
            ActionError::Failed(format!(
                "Failed to create the {kind} repository {owner}/{repo}, {e}"
            ))
        })
}

/// `access`: `owner/team` gets admin on the repository as a team, another user as a collaborator.
async fn grant(api: &Api<'_>, owner: &str, repo: &str, access: &str) -> Result<(), ActionError> {
    let path = match access.strip_prefix(&format!("{owner}/")) {
        Some(team) if valid_name(team) => {
            format!("/orgs/{owner}/teams/{team}/repos/{owner}/{repo}")
        }
        None if access == owner => return Ok(()),
        None if valid_name(access) => format!("/repos/{owner}/{repo}/collaborators/{access}"),
        _ => {
            return Err(ActionError::Input(format!(
                "input.access: '{access}' is not a user or {owner}/team"
            )))
        }
    };
    api.call(Method::PUT, &path, Some(json!({ "permission": "admin" })))
        .await
        .map(|_| ())
        .map_err(ActionError::Failed)
}

#[async_trait::async_trait]
impl Action for PublishGithub {
    fn id(&self) -> &'static str {
        "publish:github"
    }

    fn publishes(&self) -> bool {
        true
    }

    fn dry_run_output(&self, _input: &Value) -> Map<String, Value> {
        super::example_output(&["remoteUrl", "repoContentsUrl", "commitHash"], &[])
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let input_value = cx.input.clone();
        let input = Inputs::new("publish:github", &input_value, SUPPORTED)?;
        let target = self.github.target(&input)?;
        let (owner, repo) = (&target.owner, &target.repo);
        let branch = branch("defaultBranch", input.str_or("defaultBranch", "master")?)?;
        let api = target.api(&self.github);
        let created = create(&api, owner, repo, &input).await?;
        let field = |k: &str| {
            created[k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ActionError::Failed(format!("the created repository has no {k}")))
        };
        let (clone_url, html_url) = (field("clone_url")?, field("html_url")?);
        cx.log.log(&format!("created {html_url}")).await;
        if let Some(access) = input.str("access")? {
            grant(&api, owner, repo, access).await?;
        }
        if let Some(topics) = input.strings("topics")? {
            let names: Vec<String> = topics.iter().map(|t| t.to_lowercase()).collect();
            let path = format!("/repos/{owner}/{repo}/topics");
            if let Err(e) = api
                .call(Method::PUT, &path, Some(json!({ "names": names })))
                .await
            {
                cx.log
                    .log(&format!(
                        "warning: skipping topics {}, {e}",
                        names.join(" ")
                    ))
                    .await;
            }
        }
        let dir = cx.workspace_path(input.str_or("sourcePath", ".")?)?;
        let commit = Commit {
            name: input.str_or("gitAuthorName", "Greenroom")?,
            email: input.str_or("gitAuthorEmail", "scaffolder@greenroom.invalid")?,
            message: input.str_or("gitCommitMessage", "initial commit")?,
        };
        // Pushed as `x-access-token:<token>`, sent in an `http.extraHeader` through the environment.
        let auth = GitAuth::basic("x-access-token", &target.token);
        let policy = &self.github.client.policy;
        let hash = init_and_push(cx, policy, &dir, &clone_url, branch, &commit, &auth).await?;
        if input.bool_or("protectDefaultBranch", true)? {
            let path = format!("/repos/{owner}/{repo}/branches/{branch}/protection");
            let body = input.protection_body()?;
            if let Err(e) = api.call(Method::PUT, &path, Some(body)).await {
                cx.log
                    .log(&format!(
                        "warning: skipping default branch protection on '{repo}', {e}"
                    ))
                    .await;
            }
        }
        cx.output.insert("remoteUrl".into(), json!(clone_url));
        cx.output.insert(
            "repoContentsUrl".into(),
            json!(format!("{html_url}/blob/{branch}")),
        );
        cx.output.insert("commitHash".into(), json!(hash));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_inputs_are_named() {
        let input =
            json!({"repoUrl": "github.com?owner=o&repo=r", "secrets": {}, "collaborators": []});
        let err = Inputs::new("publish:github", &input, SUPPORTED)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("input.secrets") && err.contains("input.collaborators"),
            "{err}"
        );
    }
}
