//! `fetch:plain`: copies a directory or file of the template's source into the workspace as is, as
//! Backstage's does (`fs.copy`): modes kept, links inside the skeleton copied as links, existing files
//! overwritten.

use super::files::{list, source, target, write_tree, Content, Out};
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
        let out = Out::new(&cx.workspace, true)?;
        let n = tokio::task::spawn_blocking(move || {
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
