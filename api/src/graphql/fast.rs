//! Queries over HTTP without the schema's extensions. Any extension sends every field of a response
//! through the extensions' hooks (async-graphql's per-field fast path is off as soon as one is
//! registered), about a thousand fields for a page of 100 components. A query that none of the
//! extensions would change runs on the plain schema: one that parses, selects a query operation, gives
//! every required variable, stays within the width limits and reads no introspection. Everything else
//! (mutations, subscriptions, refusals) runs on the full schema as before, and so does a query again when
//! the plain run reports an error without a path: one refused before execution (the full schema refuses
//! it the same way), or a field error async-graphql left without its path (the full schema gives it one).
//! Errors with paths are completed here as the full schema's completion would.

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{IntrospectionMode, Request, Response, Variables};

use super::completion::{complete, select_operation};
use super::guard::{check_width, Width};
use super::schema::GreenroomSchema;

/// What a request needs to be built again (its parse and data are not kept).
struct Resend {
    query: String,
    operation_name: Option<String>,
    variables: Variables,
    extensions: async_graphql::Extensions,
}

impl Resend {
    fn of(request: &Request) -> Self {
        Resend {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
            extensions: request.extensions.clone(),
        }
    }

    fn request(self) -> Request {
        let mut r = Request::new(self.query).variables(self.variables);
        r.operation_name = self.operation_name;
        r.extensions = self.extensions;
        r
    }
}

impl GreenroomSchema {
    /// Executes `request`, readied by `prepare` (once, or a second time when it runs again on the full
    /// schema): on the plain schema when it is a query no extension would change, else on the full
    /// schema (see the module docs).
    pub async fn execute_with(
        &self,
        mut request: Request,
        prepare: impl Fn(Request) -> Request,
    ) -> Response {
        if !plain(&mut request, self.width) {
            return self.full.execute(prepare(request)).await;
        }
        let resend = Resend::of(&request);
        let mut resp = self.plain.execute(prepare(request)).await;
        if resp.errors.is_empty() {
            return resp;
        }
        if resp.errors.iter().any(|e| e.path.is_empty()) {
            return self.full.execute(prepare(resend.request())).await;
        }
        if let Ok(doc) = async_graphql::parser::parse_query(&resend.query) {
            if let Some(op) = select_operation(&doc, resend.operation_name.as_deref()) {
                complete(&self.index, &doc, op, &mut resp);
            }
        }
        resp
    }
}

/// True when `request` is a query that none of the full schema's extensions would change.
fn plain(request: &mut Request, width: Width) -> bool {
    if !request.data.is_empty()
        || !request.uploads.is_empty()
        || request.introspection_mode != IntrospectionMode::Enabled
    {
        return false;
    }
    let operation = request.operation_name.clone();
    let variables = std::mem::take(&mut request.variables);
    let plain = match request.parsed_query() {
        Ok(doc) => select_operation(doc, operation.as_deref()).is_some_and(|op| {
            op.ty == OperationType::Query
                && super::variables::missing_required(op, &variables).is_empty()
                && check_width(doc, width).is_ok()
                && !introspects(doc)
        }),
        Err(_) => false,
    };
    request.variables = variables;
    plain
}

/// True when `doc` selects `__schema` or `__type` anywhere (`__typename` is answered alike either way).
fn introspects(doc: &ExecutableDocument) -> bool {
    doc.operations
        .iter()
        .any(|(_, op)| set_introspects(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| set_introspects(&f.node.selection_set.node))
}

fn set_introspects(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => {
            matches!(f.node.name.node.as_str(), "__schema" | "__type")
                || set_introspects(&f.node.selection_set.node)
        }
        Selection::InlineFragment(i) => set_introspects(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDTH: Width = Width {
        max_aliases: 2,
        max_root_fields: 3,
    };

    fn is_plain(query: &str, variables: serde_json::Value) -> bool {
        let mut r = Request::new(query).variables(Variables::from_json(variables));
        plain(&mut r, WIDTH)
    }

    #[test]
    fn the_page_query_runs_without_extensions() {
        let page = "{ entities(filter: {kind: [\"Component\"]}, first: 100) { nodes { ref name ... on Component { owner { ref } system { ref } dependsOn { ref } } } } }";
        assert!(is_plain(page, serde_json::json!({})));
        let named = "query Q($r: String!) { entity(ref: $r) { ref __typename } }";
        assert!(is_plain(
            named,
            serde_json::json!({ "r": "component:default/a" })
        ));
    }

    #[test]
    fn what_an_extension_would_change_runs_on_the_full_schema() {
        let none = serde_json::json!({});
        assert!(!is_plain(
            "mutation { revokeToken(id: \"x\") }",
            none.clone()
        ));
        assert!(!is_plain("subscription { x }", none.clone()));
        assert!(!is_plain("{ __schema { description } }", none.clone()));
        let spread = "{ ...F } fragment F on Query { __type(name: \"Entity\") { name } }";
        assert!(!is_plain(spread, none.clone()));
        assert!(!is_plain(
            "query($r: String!) { entity(ref: $r) { ref } }",
            none.clone()
        ));
        let null = serde_json::json!({ "r": null });
        assert!(!is_plain(
            "query($r: String!) { entity(ref: $r) { ref } }",
            null
        ));
        assert!(!is_plain("{ a: x b: x c: x }", none.clone()), "aliases");
        assert!(!is_plain("{ a b c d }", none.clone()), "root fields");
        assert!(!is_plain("{ a", none.clone()), "does not parse");
        assert!(
            !is_plain("query A { a } query B { b }", none.clone()),
            "which one"
        );
        let mut with_data = Request::new("{ a }").data(1u8);
        assert!(
            !plain(&mut with_data, WIDTH),
            "data attached before readying"
        );
    }
}
