//! Required variables, checked before execution: an operation whose non-null variable (without a default)
//! was not provided, or was given `null`, is refused as a request error (`BAD_USER_INPUT`, no path, no
//! data), as the spec's CoerceVariableValues requires, instead of failing field by field.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, OperationDefinition};
use async_graphql::{Response, ServerError, ServerResult, Value, Variables};
use std::sync::{Arc, Mutex};

use super::errors::ApiError;

/// The errors for `op`'s required variables that `vars` leaves out or sets to `null`.
pub fn missing_required(op: &OperationDefinition, vars: &Variables) -> Vec<ServerError> {
    op.variable_definitions
        .iter()
        .filter(|d| !d.node.var_type.node.nullable && d.node.default_value.is_none())
        .filter(|d| matches!(vars.get(&d.node.name.node), None | Some(Value::Null)))
        .map(|d| {
            ApiError::BadUserInput(format!(
                "Variable \"${}\" of required type \"{}\" was not provided.",
                d.node.name.node, d.node.var_type.node
            ))
            .into_server_error(Some(d.pos))
        })
        .collect()
}

/// The schema extension that refuses operations missing a required variable.
pub struct RequiredVariables;

impl ExtensionFactory for RequiredVariables {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Check::default())
    }
}

#[derive(Default)]
struct Check {
    seen: Mutex<Option<(ExecutableDocument, Variables)>>,
}

#[async_trait::async_trait]
impl Extension for Check {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((doc.clone(), variables.clone()));
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let errors = self
            .seen
            .lock()
            .ok()
            .and_then(|seen| {
                let (doc, vars) = seen.as_ref()?;
                Some(missing_required(
                    super::completion::select_operation(doc, operation_name)?,
                    vars,
                ))
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            return Response::from_errors(errors);
        }
        next.run(ctx, operation_name).await
    }
}
