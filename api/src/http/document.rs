//! The document of a GraphQL request over HTTP, parsed once: [`shape`] parses it into the request
//! ([`async_graphql::Request::parsed_query`] keeps the parse), and what the transport needs to know of it
//! (which operation runs, its name) is read from that parse; async-graphql executes the same parse. Only a
//! document that does not parse is parsed again, by async-graphql, to report its error.

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::Request;

/// What the transport knows of one request's document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The type of the operation that runs (`operationName`, or the first); `None` when the document
    /// does not parse or names no such operation (it is refused before anything runs).
    pub(crate) ty: Option<OperationType>,
    /// The name of the document's only operation, when it has one (`query Load { … }`), for logs and
    /// metrics.
    pub(crate) only_name: Option<String>,
}

impl Shape {
    pub(crate) fn is_query(&self) -> bool {
        self.ty == Some(OperationType::Query)
    }

    pub(crate) fn is_mutation(&self) -> bool {
        self.ty == Some(OperationType::Mutation)
    }
}

/// Parses `r`'s document (once: the parse stays in the request for execution) and reads its shape.
pub(crate) fn shape(r: &mut Request) -> Shape {
    let operation = r.operation_name.clone();
    match r.parsed_query() {
        Ok(doc) => Shape {
            ty: operation_type(doc, operation.as_deref()),
            only_name: only_name(doc),
        },
        Err(_) => Shape::default(),
    }
}

fn operation_type(doc: &ExecutableDocument, operation: Option<&str>) -> Option<OperationType> {
    match operation {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, o)| o.node.ty),
        None => doc.operations.iter().next().map(|(_, o)| o.node.ty),
    }
}

fn only_name(doc: &ExecutableDocument) -> Option<String> {
    let mut ops = doc.operations.iter();
    let (name, _) = ops.next()?;
    if ops.next().is_some() {
        return None;
    }
    name.map(|n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(query: &str, operation: Option<&str>) -> Shape {
        let mut r = Request::new(query);
        r.operation_name = operation.map(str::to_string);
        shape(&mut r)
    }

    #[test]
    fn the_operation_that_runs_and_the_only_name() {
        let q = of("query Load { a }", None);
        assert!(q.is_query() && !q.is_mutation());
        assert_eq!(q.only_name.as_deref(), Some("Load"));
        let two = "query A { a } mutation B { b }";
        assert!(of(two, Some("B")).is_mutation());
        // Without a name, several operations are refused by async-graphql; which one the shape
        // reads then is not fixed (the document keeps them in a map), as before.
        assert!(of(two, None).ty.is_some());
        assert_eq!(of(two, None).only_name, None);
        assert_eq!(of(two, Some("C")).ty, None, "no such operation");
        assert_eq!(of("{ a", None), Shape::default(), "does not parse");
        assert_eq!(of("{ a }", None).only_name, None, "anonymous");
    }

    #[test]
    fn the_parse_is_kept_for_execution() {
        let mut r = Request::new("mutation { x }");
        assert!(shape(&mut r).is_mutation());
        // A second look reads the kept parse (the query text is no longer consulted).
        r.query = String::new();
        assert!(shape(&mut r).is_mutation());
    }
}
