// A paginated catalog list of a Relay frontend: `Query.entities` as a `@connection`, paged through the
// `@refetchable` query relay-compiler derives from the fragment (as usePaginationFragment does), with a
// card fragment per entity.

import { graphql } from 'relay-runtime';

export const query = graphql`
  query EntityListQuery($first: Int!, $filter: EntityFilter) {
    ...EntityList_query @arguments(first: $first, filter: $filter)
  }
`;

export const list = graphql`
  fragment EntityList_query on Query
  @argumentDefinitions(
    first: { type: "Int", defaultValue: 10 }
    after: { type: "String" }
    filter: { type: "EntityFilter" }
  )
  @refetchable(queryName: "EntityListPaginationQuery") {
    entities(first: $first, after: $after, filter: $filter)
      @connection(key: "EntityList_entities", filters: ["filter"]) {
      totalCount
      edges {
        cursor
        node {
          id
          ref
          ...EntityList_card
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

export const card = graphql`
  fragment EntityList_card on Entity {
    __typename
    id
    kind
    name
    title
    owner {
      id
      ref
    }
  }
`;
