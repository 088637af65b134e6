//! `publish:github:pull-request`: commits the workspace (or `sourcePath`) under `targetPath` on a new
//! branch of an existing repository of a configured `integrations.github` host (cloned and pushed over
//! git smart HTTP), opens a pull request for it (`POST /repos/{owner}/{repo}/pulls`) and requests
//! `reviewers` and `teamReviewers`, as Backstage's action does.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::git_push::{push_change, Change, Commit, GitAuth};
use super::github_api::{branch, Github, GithubIntegration};
use super::inputs::Inputs;
use super::rest::Api;
use super::{Action, ActionContext, ActionError};
use crate::confine::Policy;

const ID: &str = "publish:github:pull-request";

/// The inputs this action takes (Backstage's others are refused by name).
const SUPPORTED: &str = "repoUrl branchName targetBranchName title description draft sourcePath \
    targetPath token reviewers teamReviewers commitMessage update forceFork gitAuthorName \
    gitAuthorEmail forceEmptyGitAuthor createWhenEmpty";

/// Opens pull requests on the configured GitHub hosts only.
pub struct PublishGithubPullRequest {
    github: Github,
}

impl PublishGithubPullRequest {
    /// The action for `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's host and API base URL allowed.
    pub fn new(policy: &Policy, integrations: &[GithubIntegration]) -> Self {
        Self {
            github: Github::new(policy, integrations),
        }
    }
}

/// Requests the reviewers; a failure is logged, as in Backstage, and the pull request stays.
async fn request_reviewers(
    cx: &ActionContext,
    api: &Api<'_>,
    pulls: &str,
    number: &Value,
    input: &Inputs<'_>,
) -> Result<(), ActionError> {
    let users = input.strings("reviewers")?;
    let mut teams = input.strings("teamReviewers")?;
    if users.is_none() && teams.is_none() {
        return Ok(());
    }
    if let Some(t) = &mut teams {
        let mut seen = std::collections::HashSet::new();
        t.retain(|x| seen.insert(x.clone()));
    }
    let mut body = Map::new();
    if let Some(u) = users {
        body.insert("reviewers".into(), json!(u));
    }
    if let Some(t) = teams {
        body.insert("team_reviewers".into(), json!(t));
    }
    let path = format!("{pulls}/{number}/requested_reviewers");
    match api
        .call(Method::POST, &path, Some(Value::Object(body)))
        .await
    {
        Ok(pr) => {
            let names = |k: &str, n: &str| {
                let list = pr[k].as_array().cloned().unwrap_or_default();
                let names: Vec<&str> = list.iter().filter_map(|u| u[n].as_str()).collect();
                names.join(", ")
            };
            let (u, t) = (
                names("requested_reviewers", "login"),
                names("requested_teams", "slug"),
            );
            cx.log
                .log(&format!(
                    "Added users [{u}] and teams [{t}] as reviewers to Pull request {number}"
                ))
                .await;
        }
        Err(e) => {
            cx.log
                .log(&format!(
                    "warning: Failure when adding reviewers to Pull request {number}, {e}"
                ))
                .await;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Action for PublishGithubPullRequest {
    fn id(&self) -> &'static str {
        ID
    }

    fn publishes(&self) -> bool {
        true
    }

    /// Backstage's own dry run of this action: the branch as target, `repoUrl` as the URL, number 43.
    fn dry_run_output(&self, input: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("targetBranchName".into(), input["branchName"].clone());
        out.insert("remoteUrl".into(), input["repoUrl"].clone());
        out.insert("pullRequestNumber".into(), json!(43));
        out
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let input_value = cx.input.clone();
        let input = Inputs::new(ID, &input_value, SUPPORTED)?;
        for key in ["update", "forceFork", "forceEmptyGitAuthor"] {
            input.only(ID, key, &json!(false))?;
        }
        let title = input.required("title")?;
        input.required("description")?;
        let branch_name = branch("branchName", input.required("branchName")?)?;
        let target = self.github.target(&input)?;
        let (owner, repo) = (&target.owner, &target.repo);
        let api = target.api(&self.github);
        let repos = format!("/repos/{owner}/{repo}");
        let found = api
            .call(Method::GET, &repos, None)
            .await
            .map_err(ActionError::Failed)?;
        let base = match input.str("targetBranchName")? {
            Some(b) => b,
            None => found["default_branch"]
                .as_str()
                .ok_or_else(|| ActionError::input("the repository has no default_branch"))?,
        };
        let base = branch("targetBranchName", base)?;
        let remote = found["clone_url"]
            .as_str()
            .ok_or_else(|| ActionError::input("the repository has no clone_url"))?;
        let source = cx.workspace_path(input.str_or("sourcePath", ".")?)?;
        let change = Change {
            remote,
            base,
            branch: branch_name,
            source: &source,
            target_path: input.str("targetPath")?,
            when_empty: input.bool_or("createWhenEmpty", true)?,
        };
        let commit = Commit {
            name: input.str_or("gitAuthorName", "Greenroom")?,
            email: input.str_or("gitAuthorEmail", "scaffolder@greenroom.invalid")?,
            message: input.str("commitMessage")?.unwrap_or(title),
        };
        let auth = GitAuth::basic("x-access-token", &target.token);
        let policy = &self.github.client.policy;
        if push_change(cx, policy, &change, &commit, &auth)
            .await?
            .is_none()
        {
            cx.log
                .log("No changes to commit, pull request was not created")
                .await;
            return Ok(());
        }
        let body = json!({
            "title": title, "body": input.str("description")?, "head": branch_name, "base": base,
            "draft": input.bool_or("draft", false)?,
        });
        let pulls = format!("{repos}/pulls");
        let pr = api
            .call(Method::POST, &pulls, Some(body))
            .await
            .map_err(|e| ActionError::Failed(format!("Pull request creation failed, {e}")))?;
        let number = pr["number"].clone();
        request_reviewers(cx, &api, &pulls, &number, &input).await?;
        cx.output
            .insert("targetBranchName".into(), pr["base"]["ref"].clone());
        cx.output.insert("remoteUrl".into(), pr["html_url"].clone());
        cx.output.insert("pullRequestNumber".into(), number);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_taken_only_at_their_default_are_named() {
        let a = PublishGithubPullRequest::new(&Policy::default(), &[]);
        let input = json!({"repoUrl": "x?owner=o&repo=r", "update": true});
        let i = Inputs::new(ID, &input, SUPPORTED).unwrap();
        let err = i.only(ID, "update", &json!(false)).unwrap_err().to_string();
        assert!(err.contains("input.update"), "{err}");
        let dry = a.dry_run_output(&json!({"repoUrl": "u", "branchName": "b"}));
        assert_eq!(
            Value::Object(dry),
            json!({"targetBranchName": "b", "remoteUrl": "u", "pullRequestNumber": 43})
        );
    }
}
