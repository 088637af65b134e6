// The entity page of a Relay frontend: one component with its owner, system and relations, refetchable
// by its global id (Query.node). relay-compiler reads the `graphql` tags below; at run time the test
// imports the generated artifacts (there is no babel-plugin-relay here).

import { graphql } from 'relay-runtime';

export const query = graphql`
  query EntityPageQuery($ref: String!) {
    entity(ref: $ref) {
      __typename
      id
      ...EntityPage_component @alias(as: "component")
    }
  }
`;

export const component = graphql`
  fragment EntityPage_component on Component @refetchable(queryName: "EntityPageRefetchQuery") {
    id
    ref
    name
    title
    description
    lifecycle
    type
    tags
    owner {
      __typename
      id
      ref
      ... on Group {
        type
      }
    }
    system {
      id
      ref
      domain {
        id
        ref
      }
    }
    relations(first: 50) {
      type
      targetRef
      target {
        __typename
        id
        ref
        kind
      }
    }
  }
`;
