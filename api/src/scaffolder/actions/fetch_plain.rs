//! `fetch:plain`: copies a directory or file of the template's source into the workspace as is, as
//! Backstage's does (`fs.copy`): modes kept, links inside the skeleton copied as links, existing files
//! overwritten.

use super::files::{list, target, write_tree, Content, Out};
use super::url_tree::{source, Trees};
use super::{Action, ActionContext, ActionError};

/// Reads skeletons named by URL through `trees`.
pub struct FetchPlain {
    pub(super) trees: std::sync::Arc<Trees>,
}

#[async_trait::async_trait]
impl Action for FetchPlain {
    fn id(&self) -> &'static str {
        "fetch:plain"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let fetched = source(cx, &self.trees).await?;
        let src = fetched.src().to_path_buf();
        let dst = target(cx)?;
        let out = Out::new(&cx.workspace, true)?;
        let n = tokio::task::spawn_blocking(move || {
            let _kept = fetched;
            let entries = list(&src)?;
            write_tree(
                &src,
                &entries,
                &dst,
                &out,
                &|e| Ok(Some(e.rel.clone())),
                &|_, f| Ok(Content::File(f)),
            )
        })
        .await
        .map_err(|e| ActionError::Failed(e.to_string()))??;
        cx.log.log(&format!("fetched {n} files")).await;
        Ok(())
    }
}
