//! The query root: lookups by ref and ID, the filtered and paginated entity list, and facets.

use async_graphql::{Context, Object, SimpleObject, ID};
use std::sync::Arc;

use super::connection::PageInfo;
use super::context;
use super::errors::{ApiError, GqlResultExt};
use super::inputs::{EntityFilter, EntityOrder, TextMatch};
use super::loaders;
use super::node::Node;
use super::prefetch::{fetch_refs, prefetch};
use super::types::Entity;
use crate::catalog::refs::EntityRef;
use crate::catalog::search::{self, Filter, Ordering, PageRequest, Text, MAX_PAGE};
use crate::catalog::store::StoredEntity;

/// Catalog reads (every field needs `catalog:read`).
#[derive(Default)]
pub struct CatalogQuery;

/// How many items a page request may return, for the complexity limit.
fn page_weight(first: Option<i32>, last: Option<i32>) -> usize {
    first.or(last).unwrap_or(20).clamp(1, MAX_PAGE as i32) as usize
}

type Res<T> = async_graphql::Result<T>;

fn parse_ref(r: &str) -> Res<String> {
    EntityRef::parse_full(r)
        .map(|r| r.to_string())
        .map_err(|e| ApiError::BadUserInput(format!("invalid entity ref '{r}': {e}")))
        .gql()
}

/// Catalog reads (every field needs `catalog:read`).
#[Object]
impl CatalogQuery {
    /// Fetches any object by its global ID.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An opaque global ID, as a `Node`'s `id` gives it.")] id: ID,
    ) -> Res<Option<Node>> {
        super::guard::require(ctx, super::guard::READ)?;
        super::node::resolve(ctx, &id).await
    }

    /// One entity by ref (`kind:namespace/name` or `kind:name`), or null when it does not exist.
    async fn entity(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            name = "ref",
            desc = "`kind:namespace/name` or `kind:name`, any case; kind is required, namespace defaults to `default`."
        )]
        entity_ref: String,
    ) -> Res<Option<Entity>> {
        super::guard::require(ctx, super::guard::READ)?;
        let r = parse_ref(&entity_ref)?;
        Ok(fetch_refs(ctx, &[r])
            .await?
            .into_iter()
            .next()
            .map(Entity::from_stored))
    }

    /// Entities by ref, in request order, null for missing ones (at most 500 refs).
    #[graphql(complexity = "super::types::lists::cost(refs.len().max(1), child_complexity)")]
    async fn entities_by_refs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Refs `kind:namespace/name` or `kind:name`, any case (at most 500); kind is required, namespace defaults to `default`."
        )]
        refs: Vec<String>,
    ) -> Res<Vec<Option<Entity>>> {
        super::guard::require(ctx, super::guard::READ)?;
        if refs.len() as u64 > MAX_PAGE {
            return Err(ApiError::BadUserInput(format!(
                "at most {MAX_PAGE} refs per request"
            )))
            .gql();
        }
        let parsed = refs.iter().map(|r| parse_ref(r)).collect::<Res<Vec<_>>>()?;
        let found = fetch_refs(ctx, &parsed).await?;
        let by_ref: std::collections::HashMap<&str, &Arc<StoredEntity>> =
            found.iter().map(|e| (e.entity_ref.as_str(), e)).collect();
        Ok(parsed
            .iter()
            .map(|r| {
                by_ref
                    .get(r.as_str())
                    .map(|e| Entity::from_stored((*e).clone()))
            })
            .collect())
    }

    /// A page of entities (Relay connection, keyset cursors). Default page 20, at most 500.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::types::lists::cost(page_weight(first, last), child_complexity)")]
    async fn entities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entities matching this filter; default: all.")] filter: Option<
            EntityFilter,
        >,
        #[graphql(
            desc = "Text search over name, title, tags and description, case-insensitive; how it matches: `queryMatch`."
        )]
        query: Option<String>,
        #[graphql(
            desc = "How `query` matches: words and prefixes (default) or Backstage's substrings.",
            default
        )]
        query_match: TextMatch,
        #[graphql(desc = "The sort order (default: by `ref`, ascending); ties are broken by ref.")]
        order_by: Option<EntityOrder>,
        #[graphql(desc = "Page size, forward from `after` (0 to 500; default 20).")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`, from the same `orderBy`)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (0 to 500); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`, from the same `orderBy`)."
        )]
        before: Option<String>,
    ) -> Res<EntityConnection> {
        super::guard::require(ctx, super::guard::READ)?;
        let filter: Filter = filter.map(Filter::from).unwrap_or_default();
        let ordering: Ordering = order_by.map(Ordering::from).unwrap_or_default();
        let page = PageRequest {
            first: first.map(i64::from),
            after,
            last: last.map(i64::from),
            before,
        };
        let text = Text::parse(query.as_deref(), query_match == TextMatch::Substring).gql()?;
        let result = search::list(context::database(ctx)?, &filter, &text, ordering, &page)
            .await
            .gql()?;
        let refs: Vec<String> = result.items.iter().map(|(_, r)| r.clone()).collect();
        let found = loaders::load_entities(ctx, &refs).await?;
        // An entity deleted between the two reads is left out of the page.
        let items: Vec<(String, Arc<StoredEntity>)> = result
            .items
            .into_iter()
            .filter_map(|(c, r)| found.get(&r).map(|e| (c, e.clone())))
            .collect();
        let look = ctx.look_ahead();
        let nodes: Vec<Arc<StoredEntity>> = items.iter().map(|(_, e)| e.clone()).collect();
        if !nodes.is_empty() {
            prefetch(ctx, look.field("nodes"), nodes.clone()).await?;
            prefetch(ctx, look.field("edges").field("node"), nodes).await?;
        }
        Ok(EntityConnection {
            items,
            has_next: result.has_next,
            has_previous: result.has_previous,
            filter,
            text: Arc::new(text),
            // The listing may have counted the matches already (one read of them per request).
            count: tokio::sync::OnceCell::new_with(result.count),
        })
    }

    /// The sources the catalog reads, with their refresh status, oldest first (Relay connection).
    async fn locations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, oldest first from `after` (1 to 500; default 100).")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`).")]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (1 to 500); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`).")]
        before: Option<String>,
    ) -> Res<super::sources::LocationSourceConnection> {
        super::guard::require(ctx, super::guard::READ)?;
        let args = super::connection::PageArgs {
            first,
            after,
            last,
            before,
        };
        super::sources::page(ctx, args).await
    }

    /// Distinct values of a field with their counts among entities matching `filter`.
    /// Fields: kind, namespace, type, lifecycle, owner, system, tag, metadata.labels.<key>, metadata.annotations.<key>.
    async fn facets(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The field to count values of: `kind`, `namespace`, `type`, `lifecycle`, `owner`, `system`, `tag`, `metadata.labels.<key>` or `metadata.annotations.<key>`."
        )]
        field: String,
        #[graphql(desc = "Only count entities matching this filter; default: all.")] filter: Option<
            EntityFilter,
        >,
    ) -> Res<Vec<Facet>> {
        super::guard::require(ctx, super::guard::READ)?;
        let filter: Filter = filter.map(Filter::from).unwrap_or_default();
        let rows = search::facets(context::database(ctx)?, &field, &filter)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|(value, count)| Facet {
                value,
                count: count as i64,
            })
            .collect())
    }
}

/// One distinct value of a facet field and how many entities have it.
#[derive(SimpleObject)]
pub struct Facet {
    /// The field value.
    pub value: String,
    /// How many matching entities have this value.
    pub count: i64,
}

pub struct EntityConnection {
    items: Vec<(String, Arc<StoredEntity>)>,
    has_next: bool,
    has_previous: bool,
    filter: Filter,
    text: Arc<Text>,
    /// The bounded count, made once for `totalCount` and `totalCountExact`.
    count: tokio::sync::OnceCell<(u64, bool)>,
}

impl EntityConnection {
    async fn counted(&self, ctx: &Context<'_>) -> Res<(u64, bool)> {
        let db = context::database(ctx)?;
        let (filter, text) = (&self.filter, &*self.text);
        self.count
            .get_or_try_init(|| search::count_bounded(db, filter, text, search::MAX_EXACT_COUNT))
            .await
            .copied()
            .gql()
    }
}

pub struct EntityEdge {
    cursor: String,
    node: Arc<StoredEntity>,
    text: Arc<Text>,
}

/// One entity in a page, with its cursor.
#[Object]
impl EntityEdge {
    /// Opaque cursor of this entity, for `after` or `before`.
    async fn cursor(&self) -> &str {
        &self.cursor
    }
    /// The entity.
    async fn node(&self) -> Entity {
        Entity::from_stored(self.node.clone())
    }
    /// Where the entity matches a word `query`: the most relevant field with a match (name, title,
    /// tags, description) and its text (a description cut to about 160 characters around the first
    /// match) in parts, the matched ones marked. Null without a word query.
    async fn highlight(&self) -> Option<super::types::highlight::SearchHighlight> {
        let q = self.text.words()?;
        crate::catalog::highlight::highlight(q, self.node.body())
            .map(super::types::highlight::SearchHighlight::from)
    }
}

/// A page of entities (Relay connection).
#[Object]
impl EntityConnection {
    /// The entities of the page with their cursors.
    async fn edges(&self) -> Vec<EntityEdge> {
        self.items
            .iter()
            .map(|(c, e)| EntityEdge {
                cursor: c.clone(),
                node: e.clone(),
                text: self.text.clone(),
            })
            .collect()
    }
    /// The entities of the page, without cursors.
    async fn nodes(&self) -> Vec<Entity> {
        self.items
            .iter()
            .map(|(_, e)| Entity::from_stored(e.clone()))
            .collect()
    }
    /// Cursors and whether more pages exist.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next,
            has_previous_page: self.has_previous,
            start_cursor: self.items.first().map(|(c, _)| c.clone()),
            end_cursor: self.items.last().map(|(c, _)| c.clone()),
        }
    }
    /// Entities matching the filter and query, across all pages, counted up to 10,000: past it, 10,000
    /// and `totalCountExact` false. A filtered count reads at most 10,001 rows; a word search's count
    /// comes from the word index read it shares with the page.
    async fn total_count(&self, ctx: &Context<'_>) -> Res<i64> {
        Ok(self.counted(ctx).await?.0 as i64)
    }
    /// Whether `totalCount` is every match (false: there are more than 10,000).
    async fn total_count_exact(&self, ctx: &Context<'_>) -> Res<bool> {
        Ok(self.counted(ctx).await?.1)
    }
}
