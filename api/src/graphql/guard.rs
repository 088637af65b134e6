//! The caller in resolvers (scope checks), and the schema extension that enforces the width limits
//! (aliases, root fields) and writes an audit row for every mutation field.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextResolve,
    ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Context, Request, ServerError, ServerResult, Value, Variables};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::errors::{ApiError, GqlResultExt};
use crate::auth::audit::AuditDraft;
use crate::auth::{Caller, Scope};

/// The caller, when it holds `scope`.
pub fn require(ctx: &Context<'_>, scope: Scope) -> async_graphql::Result<Caller> {
    let c = super::context::caller(ctx)?;
    c.require(scope).map_err(ApiError::from).gql()?;
    Ok(c)
}

/// With the ownership policy on (`auth.policy.ownership`), `Ok` only when `caller` may write to the
/// entity `entity_ref`; with it off, always `Ok` (see [`crate::auth::policy::enforce`]). Schema data
/// without authentication settings is a wiring bug (`INTERNAL`), never a policy turned off.
pub async fn require_owner(
    ctx: &Context<'_>,
    caller: &Caller,
    entity_ref: &str,
) -> async_graphql::Result<()> {
    let ownership = super::context::auth(ctx)?.ownership_policy;
    let db = super::context::database(ctx)?;
    crate::auth::policy::enforce(db, ownership, caller, entity_ref)
        .await
        .map_err(ApiError::from)
        .gql()?;
    Ok(())
}

/// Root mutation fields (by response key) whose resolver already wrote their audit row in its own
/// transaction; the guard writes none for them. Attached to every request by the guard.
#[derive(Default)]
struct AuditedFields(Mutex<HashSet<String>>);

/// The audit row for the current root mutation field, as the guard would write it, when the request
/// lets the resolver write it (see [`mark_audited`]); `None` leaves it to the guard.
pub fn audit_draft(ctx: &Context<'_>, caller: &Caller) -> Option<AuditDraft> {
    ctx.data_opt::<AuditedFields>()?;
    let field = ctx.field();
    let target = field
        .arguments()
        .ok()
        .and_then(|args| args.into_iter().next())
        .map(|(name, value)| format!("{name}={}", redact(value)));
    Some(AuditDraft {
        subject: caller.subject.clone(),
        operation: field.name().to_string(),
        target,
    })
}

/// Tells the guard that the resolver committed the audit row of the current root field.
pub fn mark_audited(ctx: &Context<'_>) {
    if let Some(marks) = ctx.data_opt::<AuditedFields>() {
        if let Ok(mut m) = marks.0.lock() {
            m.insert(
                ctx.field()
                    .alias()
                    .unwrap_or(ctx.field().name())
                    .to_string(),
            );
        }
    }
}

/// Argument fields whose values never reach the audit log.
const SECRET_FIELDS: &[&str] = &["secrets", "password", "token", "secret"];

/// `value` with the values of [`SECRET_FIELDS`] replaced by `"***"` and URL credentials masked, at any
/// depth.
fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if SECRET_FIELDS.contains(&k.as_str()) {
                        (k, Value::String("***".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::List(items) => Value::List(items.into_iter().map(redact).collect()),
        // Credentials inside URLs (`https://user:pass@host`) are masked too.
        Value::String(text) => Value::String(crate::confine::mask_text(&text)),
        other => other,
    }
}

/// Marks operations that arrived over a WebSocket (only subscriptions are accepted there).
pub struct ViaWebSocket;

/// Width limits, applied after parsing.
#[derive(Clone, Copy, Debug)]
pub struct Width {
    pub max_aliases: usize,
    pub max_root_fields: usize,
}

pub struct Guard {
    pub width: Width,
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExt {
            width: self.width,
            variables: Mutex::new(Variables::default()),
        })
    }
}

struct GuardExt {
    width: Width,
    variables: Mutex<Variables>,
}

fn too_wide(message: String) -> ServerError {
    ApiError::BadUserInput(message).into_server_error(None)
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => count_aliases(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Fields selected at the root of `set`, following each fragment once (`seen`); stops counting past `cap`.
fn count_fields<'d>(
    set: &'d SelectionSet,
    doc: &'d ExecutableDocument,
    seen: &mut Vec<&'d str>,
    cap: usize,
) -> usize {
    let mut n = 0;
    for item in &set.items {
        if n > cap {
            break;
        }
        n += match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(i) => {
                count_fields(&i.node.selection_set.node, doc, seen, cap)
            }
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                if seen.contains(&name) {
                    0
                } else {
                    seen.push(name);
                    doc.fragments
                        .get(&s.node.fragment_name.node)
                        .map(|f| count_fields(&f.node.selection_set.node, doc, seen, cap))
                        .unwrap_or(0)
                }
            }
        };
    }
    n
}

/// `Err` when `doc` uses more aliases, or one of its operations selects more root fields, than `width`
/// allows (`BAD_USER_INPUT`).
pub(super) fn check_width(doc: &ExecutableDocument, width: Width) -> ServerResult<()> {
    let aliases: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .chain(
            doc.fragments
                .values()
                .map(|f| count_aliases(&f.node.selection_set.node)),
        )
        .sum();
    if aliases > width.max_aliases {
        return Err(too_wide(format!(
            "the query uses {aliases} aliases; at most {} are allowed",
            width.max_aliases
        )));
    }
    for (_, op) in doc.operations.iter() {
        let cap = width.max_root_fields;
        let roots = count_fields(&op.node.selection_set.node, doc, &mut Vec::new(), cap);
        if roots > width.max_root_fields {
            return Err(too_wide(format!(
                "the operation selects {roots} root fields; at most {} are allowed",
                width.max_root_fields
            )));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Extension for GuardExt {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(AuditedFields::default())).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if ctx.data_opt::<ViaWebSocket>().is_some()
            && doc.operations.iter().any(|(_, op)| {
                op.node.ty != async_graphql::parser::types::OperationType::Subscription
            })
        {
            return Err(too_wide(
                "only subscriptions are served over WebSocket; send queries and mutations to POST /graphql"
                    .into(),
            ));
        }
        check_width(&doc, self.width)?;
        if let Ok(mut v) = self.variables.lock() {
            *v = variables.clone();
        }
        Ok(doc)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // Root fields of a mutation (the mutation type is `Mutation`, see `schema`).
        if info.parent_type != "Mutation" || info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        // Boxed on its own: every other field awaits only `next`, so its future stays small (this hook
        // runs for every field of every response).
        Box::pin(self.audited(ctx, info, next)).await
    }
}

impl GuardExt {
    /// Resolves a mutation root field and writes its audit row (unless the resolver wrote it).
    async fn audited(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let operation = info.name.to_string();
        let key = info.alias.unwrap_or(info.name).to_string();
        let target = info.field.arguments.first().map(|(name, value)| {
            let vars = self.variables.lock().map(|v| v.clone()).unwrap_or_default();
            let value = value
                .node
                .clone()
                .into_const_with(|n| Ok::<_, ()>(vars.get(&n).cloned().unwrap_or(Value::Null)))
                .unwrap_or(Value::Null);
            format!("{}={}", name.node, redact(value))
        });
        let result = next.run(ctx, info).await;
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|c| c.to_string().trim_matches('"').to_string())
                .unwrap_or_else(|| "error".into()),
        };
        let audited = ctx
            .data_opt::<AuditedFields>()
            .and_then(|m| m.0.lock().ok().map(|m| m.contains(&key)))
            .unwrap_or(false);
        if audited && result.is_ok() {
            return result;
        }
        // Without a caller the resolver has answered INTERNAL (a wiring bug, see `context`); the row
        // says so rather than naming the dev caller.
        let subject = ctx
            .data_opt::<Caller>()
            .map_or_else(|| "(no caller)".to_string(), |c| c.subject.clone());
        if let Some(db) = ctx.data_opt::<sea_orm::DatabaseConnection>() {
            if let Err(e) =
                crate::auth::audit::record(db, &subject, &operation, target, &outcome).await
            {
                tracing::error!(error = %e, operation, "could not write the audit log");
            }
        }
        result
    }
}

/// Scope needed to read the catalog, checked by every query root field.
pub const READ: Scope = Scope::CatalogRead;
