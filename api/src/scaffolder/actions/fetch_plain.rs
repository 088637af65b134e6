//! `fetch:plain`: copies a directory or file of the template's source into the workspace.

use std::path::Path;

use super::files::{copy_tree, source, target};
use super::{Action, ActionContext, ActionError};

pub struct FetchPlain;

#[async_trait::async_trait]
impl Action for FetchPlain {
    fn id(&self) -> &'static str {
        "fetch:plain"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let (_, src) = source(cx)?;
        let dst = target(cx)?;
        let n = tokio::task::spawn_blocking(move || {
            let mut n = 0;
            copy_tree(&src, &dst, Path::new(""), &|_, _| Ok(None), &mut n).map(|_| n)
        })
        .await
        .map_err(|e| ActionError::Failed(e.to_string()))??;
        cx.log.log(&format!("fetched {n} files")).await;
        Ok(())
    }
}
