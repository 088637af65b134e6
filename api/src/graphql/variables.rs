//! Required variables, checked before execution: an operation whose non-null variable (without a default)
//! was not provided, or was given `null`, is refused as a request error (`BAD_USER_INPUT`, no path, no
//! data), as the spec's CoerceVariableValues requires, instead of failing field by field.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationDefinition};
use async_graphql::{Request, Response, ServerError, ServerResult, Value, Variables};
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

/// Reads the operation's required variables from the document async-graphql parsed (no copy of it is
/// kept): the operation name comes from the prepared request, the errors wait for execution (after
/// validation, as before).
#[derive(Default)]
struct Check {
    operation: Mutex<Option<String>>,
    missing: Mutex<Vec<ServerError>>,
}

#[async_trait::async_trait]
impl Extension for Check {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        if let Ok(mut operation) = self.operation.lock() {
            operation.clone_from(&request.operation_name);
        }
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let operation = self.operation.lock().ok().and_then(|o| o.clone());
        let errors = super::completion::select_operation(&doc, operation.as_deref())
            .map(|op| missing_required(op, variables))
            .unwrap_or_default();
        if let Ok(mut missing) = self.missing.lock() {
            *missing = errors;
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
            .missing
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Response::from_errors(errors);
        }
        next.run(ctx, operation_name).await
    }
}
