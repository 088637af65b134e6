//! Completes responses as the GraphQL spec's "Handling Execution Errors" requires: a field whose resolver
//! failed is `null` at its path, and a `null` in a non-null position propagates to the nearest nullable
//! parent (async-graphql 7.2 drops such fields instead). Runs as a schema extension, so every transport
//! (HTTP, batches, WebSocket) gets the same completed responses.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
    NextSubscribe, ResolveInfo,
};
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
    Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{
    Name, PathSegment, QueryPathNode, QueryPathSegment, Response, ServerResult, Value, Variables,
};
use futures_util::stream::{BoxStream, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Field types by type name and field name, and the root type names, read from the schema's SDL.
#[derive(Debug, Default)]
pub struct TypeIndex {
    fields: HashMap<String, HashMap<String, Type>>,
    roots: [String; 3],
}

impl TypeIndex {
    /// Indexes `sdl`; an SDL that does not parse gives an empty index (every position then counts as
    /// nullable, which still puts `null` at each error's path).
    pub fn from_sdl(sdl: &str) -> Self {
        let mut index = TypeIndex {
            fields: HashMap::new(),
            roots: ["Query".into(), "Mutation".into(), "Subscription".into()],
        };
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return index;
        };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Schema(s) => {
                    let s = s.node;
                    let names = [s.query, s.mutation, s.subscription];
                    for (slot, name) in index.roots.iter_mut().zip(names) {
                        if let Some(n) = name {
                            *slot = n.node.to_string();
                        }
                    }
                }
                TypeSystemDefinition::Type(t) => {
                    let fields = match &t.node.kind {
                        TypeKind::Object(o) => &o.fields,
                        TypeKind::Interface(i) => &i.fields,
                        _ => continue,
                    };
                    let by_name = fields
                        .iter()
                        .map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone()))
                        .collect();
                    index.fields.insert(t.node.name.node.to_string(), by_name);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        index
    }

    fn root(&self, ty: OperationType) -> &str {
        match ty {
            OperationType::Query => &self.roots[0],
            OperationType::Mutation => &self.roots[1],
            OperationType::Subscription => &self.roots[2],
        }
    }

    fn field(&self, parent: &str, name: &str) -> Option<&Type> {
        self.fields.get(parent)?.get(name)
    }
}

/// The operation of `doc` that runs: the one named `name`, else the only one.
pub(crate) fn select_operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|o| &o.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|o| &o.node)
        }
        _ => None,
    }
}

/// One matching field of a selection: its name, its selection set and the type condition it sits under.
struct Matched<'a> {
    name: &'a str,
    selection: &'a SelectionSet,
    condition: Option<&'a str>,
}

/// The fields of `set` (through fragments) whose response key is `key`.
fn collect<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    key: &str,
    condition: Option<&'a str>,
    depth: usize,
    out: &mut Vec<Matched<'a>>,
) {
    if depth > 64 {
        return;
    }
    for sel in &set.items {
        match &sel.node {
            Selection::Field(f) => {
                let f = &f.node;
                let response_key = f.alias.as_ref().unwrap_or(&f.name).node.as_str();
                if response_key == key {
                    out.push(Matched {
                        name: f.name.node.as_str(),
                        selection: &f.selection_set.node,
                        condition,
                    });
                }
            }
            Selection::InlineFragment(i) => {
                let cond = i
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str())
                    .or(condition);
                collect(doc, &i.node.selection_set.node, key, cond, depth + 1, out);
            }
            Selection::FragmentSpread(s) => {
                if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node) {
                    let cond = Some(frag.node.type_condition.node.on.node.as_str());
                    collect(
                        doc,
                        &frag.node.selection_set.node,
                        key,
                        cond,
                        depth + 1,
                        out,
                    );
                }
            }
        }
    }
}

/// Whether each position along `path` may hold `null` (index `i` is the position `path[..=i]`). A
/// position the walk cannot type counts as nullable.
fn nullability(
    index: &TypeIndex,
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    path: &[PathSegment],
) -> Vec<bool> {
    let mut out = Vec::with_capacity(path.len());
    let mut sets: Vec<&SelectionSet> = vec![&op.selection_set.node];
    let mut parent: String = index.root(op.ty).to_string();
    let mut current: Option<Type> = None;
    for seg in path {
        let next = match seg {
            PathSegment::Field(key) => {
                let mut matched = Vec::new();
                for set in &sets {
                    collect(doc, set, key, None, 0, &mut matched);
                }
                let ty = matched.iter().find_map(|m| {
                    index
                        .field(&parent, m.name)
                        .or_else(|| m.condition.and_then(|c| index.field(c, m.name)))
                });
                sets = matched.iter().map(|m| m.selection).collect();
                ty.cloned()
            }
            PathSegment::Index(_) => match current.as_ref().map(|t| &t.base) {
                Some(BaseType::List(item)) => Some((**item).clone()),
                _ => None,
            },
        };
        let Some(ty) = next else {
            out.resize(path.len(), true);
            return out;
        };
        out.push(ty.nullable);
        let mut base = &ty.base;
        while let BaseType::List(inner) = base {
            base = &inner.base;
        }
        if let BaseType::Named(n) = base {
            parent = n.to_string();
        }
        current = Some(ty);
    }
    out
}

/// Puts `null` at `path` in `data`, creating the objects on the way that execution left out (an object
/// all of whose fields failed comes back as `null`).
fn put_null(data: &mut Value, path: &[PathSegment]) {
    let mut cur = data;
    for seg in path {
        match seg {
            PathSegment::Field(key) => {
                if matches!(cur, Value::Null) {
                    *cur = Value::Object(Default::default());
                }
                let Value::Object(map) = cur else { return };
                cur = map.entry(Name::new(key)).or_insert(Value::Null);
            }
            PathSegment::Index(i) => {
                let Value::List(items) = cur else { return };
                let Some(item) = items.get_mut(*i) else {
                    return;
                };
                cur = item;
            }
        }
    }
    *cur = Value::Null;
}

/// The value at `path` in `data`, when there is one.
fn value_at<'a>(data: &'a Value, path: &[PathSegment]) -> Option<&'a Value> {
    path.iter().try_fold(data, |cur, seg| match (seg, cur) {
        (PathSegment::Field(k), Value::Object(m)) => m.get(k.as_str()),
        (PathSegment::Index(i), Value::List(l)) => l.get(*i),
        _ => None,
    })
}

/// Completes `resp` (the result of running `op` of `doc`): each error's field is `null`, propagated up
/// through non-null positions; when it reaches the root, `data` is `null`.
pub fn complete(
    index: &TypeIndex,
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    resp: &mut Response,
) {
    let paths: Vec<Vec<PathSegment>> = resp
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.clone())
        .collect();
    if paths.is_empty() {
        return;
    }
    // Positions already nulled: an error beneath one of them changes nothing more.
    let mut nulled: Vec<Vec<PathSegment>> = Vec::new();
    let mut root_null = false;
    for path in paths {
        if root_null || (0..path.len()).any(|n| nulled.iter().any(|p| p[..] == path[..n])) {
            continue;
        }
        // A field that produced its value despite the error (a `LIST_TRUNCATED` notice) keeps it.
        if !matches!(value_at(&resp.data, &path), None | Some(Value::Null)) {
            continue;
        }
        let nullable = nullability(index, doc, op, &path);
        match (1..=path.len()).rev().find(|&n| nullable[n - 1]) {
            Some(n) => {
                put_null(&mut resp.data, &path[..n]);
                nulled.push(path[..n].to_vec());
            }
            None => root_null = true,
        }
    }
    if root_null {
        resp.data = Value::Null;
    }
}

/// The response path of `node`, root first.
fn path_of(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|n| match n.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_string()),
            QueryPathSegment::Index(i) => PathSegment::Index(i),
        })
        .collect();
    path.reverse();
    path
}

/// The schema extension that completes every response (see the module docs).
pub struct Completion {
    pub index: Arc<TypeIndex>,
}

impl ExtensionFactory for Completion {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CompletionExtension {
            index: self.index.clone(),
            document: Arc::default(),
        })
    }
}

struct CompletionExtension {
    index: Arc<TypeIndex>,
    document: Arc<Mutex<Option<Arc<ExecutableDocument>>>>,
}

impl CompletionExtension {
    fn document(&self) -> Option<Arc<ExecutableDocument>> {
        self.document.lock().ok()?.clone()
    }
}

#[async_trait::async_trait]
impl Extension for CompletionExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Ok(mut slot) = self.document.lock() {
            *slot = Some(Arc::new(doc.clone()));
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut resp = next.run(ctx, operation_name).await;
        if let Some(doc) = self.document() {
            if let Some(op) = select_operation(&doc, operation_name) {
                complete(&self.index, &doc, op, &mut resp);
            }
        }
        resp
    }

    /// Gives a field error the field's path when it has none (async-graphql 7.2 leaves it out for
    /// fields resolved through an interface). `__schema { description }` is the schema's description,
    /// which this schema has none of (async-graphql 7.2 answers its `__Schema` type's text instead).
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "__Schema" && info.name == "description" {
            return Ok(Some(Value::Null));
        }
        let node = info.path_node;
        next.run(ctx, info).await.map_err(|mut e| {
            if e.path.is_empty() {
                e.path = path_of(node);
            }
            e
        })
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        // The document is parsed once the stream is polled, so it is read per event. Queries and
        // mutations sent over the socket were completed by `execute` already.
        let index = self.index.clone();
        let slot = self.document.clone();
        let completed = stream
            .map(move |mut resp| {
                let doc = slot.lock().ok().and_then(|d| d.clone());
                if let Some(doc) = doc {
                    let op = select_operation(&doc, None)
                        .filter(|op| op.ty == OperationType::Subscription);
                    if let Some(op) = op {
                        complete(&index, &doc, op, &mut resp);
                    }
                }
                resp
            })
            .boxed();
        next.run(ctx, completed)
    }
}
