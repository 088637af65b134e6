// A component's deployment history in a Relay frontend: `Component.deployments` as a `@connection` per
// environment, paged through the `@refetchable` query relay-compiler derives (over `node(id:)`).

import { graphql } from 'relay-runtime';

export const query = graphql`
  query DeploymentHistoryQuery($ref: String!, $environment: String) {
    entity(ref: $ref) {
      id
      ...DeploymentHistory_component @arguments(environment: $environment) @alias(as: "component")
    }
  }
`;

export const history = graphql`
  fragment DeploymentHistory_component on Component
  @argumentDefinitions(
    first: { type: "Int", defaultValue: 3 }
    after: { type: "String" }
    environment: { type: "String" }
  )
  @refetchable(queryName: "DeploymentHistoryPaginationQuery") {
    id
    ref
    deployments(first: $first, after: $after, environment: $environment)
      @connection(key: "DeploymentHistory_deployments", filters: ["environment"]) {
      edges {
        cursor
        node {
          id
          version
          status
          environment
          recordedBy
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;
