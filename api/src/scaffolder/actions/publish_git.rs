//! `publish:git`: commits the workspace (or `sourcePath` in it) and pushes it to any git remote URL
//! (`file://`, https, ssh, using the machine's git credentials, never prompting) on a branch.

use serde_json::{json, Value};

use super::{Action, ActionContext, ActionError};
use crate::providers::git::git;

/// Pushes only to remotes the server's read policy allows.
pub struct PublishGit {
    pub policy: std::sync::Arc<crate::confine::Policy>,
}

#[async_trait::async_trait]
impl Action for PublishGit {
    fn id(&self) -> &'static str {
        "publish:git"
    }

    fn publishes(&self) -> bool {
        true
    }

    fn dry_run_output(&self, _input: &Value) -> serde_json::Map<String, Value> {
        super::example_output(&["remoteUrl", "repoContentsUrl", "commitHash"], &[])
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let remote = cx.input_str("remoteUrl")?.to_string();
        if remote.starts_with('-') {
            return Err(ActionError::input("input.remoteUrl must be a URL"));
        }
        self.policy
            .check_git_remote(&remote)
            .await
            .map_err(|e| ActionError::Input(format!("input.remoteUrl: {e}")))?;
        let s = |k: &str, d: &str| {
            cx.input
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or(d)
                .to_string()
        };
        let branch = s("defaultBranch", "main");
        if branch.starts_with('-') || branch.contains("..") || branch.contains(' ') {
            return Err(ActionError::Input(format!(
                "'{branch}' is not a branch name"
            )));
        }
        let message = s("gitCommitMessage", "Initial commit");
        let author = s("gitAuthorName", "Greenroom");
        let email = s("gitAuthorEmail", "scaffolder@greenroom.invalid");
        let dir = cx.workspace_path(&s("sourcePath", "."))?;
        let name = format!("user.name={author}");
        let mail = format!("user.email={email}");
        git(Some(&dir), &["init", "--quiet", "-b", &branch]).await?;
        git(Some(&dir), &["add", "--all"]).await?;
        git(
            Some(&dir),
            &[
                "-c",
                &name,
                "-c",
                &mail,
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                &message,
            ],
        )
        .await?;
        let refspec = format!("HEAD:refs/heads/{branch}");
        git(Some(&dir), &["push", "--quiet", "--", &remote, &refspec]).await?;
        let commit = git(Some(&dir), &["rev-parse", "HEAD"])
            .await?
            .trim()
            .to_string();
        cx.log
            .log(&format!(
                "pushed {commit} to {} ({branch})",
                crate::confine::mask_userinfo(&remote)
            ))
            .await;
        cx.output.insert("remoteUrl".into(), json!(remote));
        cx.output.insert(
            "repoContentsUrl".into(),
            json!(format!("{remote}#{branch}")),
        );
        cx.output.insert("commitHash".into(), json!(commit));
        Ok(())
    }
}
