// A scaffolder task page in a Relay frontend: the task with its steps (each a record of its own, by its
// global id) and its event log as a `@connection`; a step can be loaded alone through `node(id:)`.

import { graphql } from 'relay-runtime';

export const query = graphql`
  query TaskViewQuery($id: ID!) {
    task(id: $id) {
      id
      ...TaskView_task
    }
  }
`;

export const task = graphql`
  fragment TaskView_task on Task {
    id
    status
    templateRef
    createdBy
    steps {
      id
      stepId
      name
      action
      status
    }
    events(first: 100) @connection(key: "TaskView_events") {
      totalCount
      edges {
        node {
          id
          kind
          stepId
          message
        }
      }
    }
  }
`;

export const step = graphql`
  query TaskViewStepQuery($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on TaskStep {
        stepId
        status
      }
    }
  }
`;
