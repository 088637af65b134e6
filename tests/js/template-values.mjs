// Parameter values for a Backstage template, derived from its parameter schema the way a user filling
// the form with plausible input would (used by measure-templates.mjs): `const`, `default`, the first
// `enum`/`oneOf`/`examples` value, the scaffolder's pickers (RepoUrlPicker → `HOST?owner=O&repo=R`,
// OwnerPicker → a group ref, EntityPicker → a ref of an allowed kind), strings obeying `pattern`,
// `format` and length bounds where a candidate fits, numbers within bounds, `false`, arrays of one item;
// `dependencies` (oneOf branches, nested ones too) and `allOf` if/then add the properties their condition
// selects; a `required` name with no property schema gets a string.

const STRING_CANDIDATES = [
  'my-service', 'myservice', 'my_service', 'MyService', 'example', 'service1', 'demo', 'a1', 'abc',
  'com.example', 'com.example.demo', 'v1', '1.0.0', '1', '8080', 'default', 'main', 'us-east-1',
  'my-service-123', 'Example Service', 'example.com', 'https://example.com', 'dev@example.com',
  'team-a', 'ABC', 'a', 'abcdefgh', 'my-service-name-example', '00000000-0000-4000-8000-000000000000',
];

const FORMATS = {
  email: 'dev@example.com',
  uri: 'https://example.com/x',
  url: 'https://example.com/x',
  hostname: 'example.com',
  date: '2024-01-01',
  'date-time': '2024-01-01T00:00:00Z',
  ipv4: '10.0.0.1',
  // What a file picker gives (react-jsonschema-form's FileWidget: a data URL naming the file).
  'data-url': 'data:text/plain;name=example.txt;base64,ZXhhbXBsZQ==',
};

function fits(s, schema) {
  if (schema.minLength !== undefined && s.length < schema.minLength) return false;
  if (schema.maxLength !== undefined && s.length > schema.maxLength) return false;
  if (schema.pattern) {
    try {
      return new RegExp(schema.pattern, 'u').test(s);
    } catch {
      return true;
    }
  }
  return true;
}

function pickerOptions(schema) {
  return schema['ui:options'] ?? {};
}

function repoUrl(schema) {
  const o = pickerOptions(schema);
  const host = (o.allowedHosts ?? [])[0] ?? 'github.com';
  const owner = (o.allowedOwners ?? [])[0] ?? (o.allowedOrganizations ?? [])[0] ?? 'acme';
  const repo = (o.allowedRepos ?? [])[0] ?? 'my-service';
  if (/dev\.azure\.com/.test(host)) return `${host}?organization=acme&project=demo&repo=${repo}`;
  if (/bitbucket/.test(host)) return `${host}?workspace=acme&project=DEMO&repo=${repo}`;
  return `${host}?owner=${owner}&repo=${repo}`;
}

function entityRef(schema) {
  const o = pickerOptions(schema);
  let kind = (o.allowedKinds ?? [])[0];
  const filter = Array.isArray(o.catalogFilter) ? o.catalogFilter[0] : o.catalogFilter;
  if (!kind && filter?.kind) kind = Array.isArray(filter.kind) ? filter.kind[0] : filter.kind;
  kind = (kind ?? 'Component').toLowerCase();
  const ns = o.defaultNamespace || 'default';
  return `${kind}:${ns}/example`;
}

function fromField(schema) {
  switch (schema['ui:field']) {
    case 'RepoUrlPicker':
      return repoUrl(schema);
    case 'OwnerPicker':
    case 'MyGroupsPicker':
      return 'group:default/team-a';
    case 'EntityPicker':
    case 'OwnedEntityPicker':
      return entityRef(schema);
    case 'MultiEntityPicker':
      return [entityRef(schema)];
    case 'EntityNamePicker':
      return 'my-service';
    case 'EntityTagsPicker':
      return ['example'];
    default:
      return undefined;
  }
}

function firstChoice(schema) {
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  for (const key of ['oneOf', 'anyOf']) {
    const first = (schema[key] ?? []).find((s) => s && 'const' in s);
    if (first) return first.const;
  }
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  return undefined;
}

function stringValue(schema, name) {
  if (schema.format && FORMATS[schema.format] && fits(FORMATS[schema.format], schema)) {
    return FORMATS[schema.format];
  }
  const named = /mail/i.test(name) ? ['dev@example.com'] : /url|link|host/i.test(name) ? ['https://example.com'] : [];
  for (const s of [...named, ...STRING_CANDIDATES]) if (fits(s, schema)) return s;
  return 'my-service';
}

function typeOf(schema) {
  const t = schema.type;
  if (Array.isArray(t)) return t.find((x) => x !== 'null') ?? 'string';
  if (t) return t;
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return 'string';
}

// Whether a default is one the form would submit: of the declared type and among the enum's values
// (a template's `default: {}` on a string field, or a default outside its enum, is not).
function fitsType(v, schema) {
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) return false;
  const t = schema.type;
  if (!t || Array.isArray(t)) return true;
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (t === 'integer' || t === 'number') return kind === 'number';
  return t === kind || (t === 'null' && v === null);
}

/// A value for one property schema (`name` helps pick a plausible string).
export function valueFor(schema, name = '') {
  if (!schema || typeof schema !== 'object') return 'example';
  if ('const' in schema) return schema.const;
  if ('default' in schema && fitsType(schema.default, schema)) return schema.default;
  const field = fromField(schema);
  if (field !== undefined) return field;
  const choice = firstChoice(schema);
  if (choice !== undefined) return choice;
  switch (typeOf(schema)) {
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'array': {
      const items = Array.isArray(schema.items) ? schema.items[0] : schema.items ?? { type: 'string' };
      const n = Math.max(1, schema.minItems ?? 1);
      const one = items.enum?.length ? items.enum[0] : valueFor(items, name);
      return Array.from({ length: n }, () => one);
    }
    case 'object':
      return objectValue(schema);
    default:
      return stringValue(schema, name);
  }
}

function matches(branch, values) {
  for (const [k, s] of Object.entries(branch?.properties ?? {})) {
    if (!(k in values)) continue;
    if (s && 'const' in s && values[k] !== s.const) return false;
    if (s && Array.isArray(s.enum) && !s.enum.includes(values[k])) return false;
  }
  return true;
}

function addProperties(properties, values) {
  for (const [k, s] of Object.entries(properties ?? {})) {
    if (!(k in values)) {
      const v = valueFor(s, k);
      if (v !== undefined) values[k] = v;
    }
  }
}

// A selected sub-schema (a oneOf branch, a dependency, an if/then part): its properties, then, as a
// form shows them, what its own conditions select, and a string for each `required` name it lacks.
function addBranch(branch, values) {
  if (!branch || typeof branch !== 'object') return;
  addProperties(branch.properties, values);
  addConditional(branch, values);
  addRequired(branch, values);
}

function addConditional(schema, values) {
  // A oneOf/anyOf of alternative property sets: the first one the values already match, else the first.
  const alternatives = (schema.oneOf ?? schema.anyOf ?? []).filter((b) => b?.properties);
  if (alternatives.length) addBranch(alternatives.find((b) => matches(b, values)) ?? alternatives[0], values);
  for (const [key, dep] of Object.entries(schema.dependencies ?? {})) {
    if (!(key in values) || Array.isArray(dep)) continue;
    addProperties(dep.properties, values);
    addRequired(dep, values);
    addBranch((dep.oneOf ?? dep.anyOf ?? []).find((b) => matches(b, values)), values);
  }
  for (const part of schema.allOf ?? []) {
    if (part.if && matches(part.if, values)) addBranch(part.then, values);
    else if (part.if && part.else) addBranch(part.else, values);
    else if (!part.if) addBranch(part, values);
  }
}

function addRequired(schema, values) {
  for (const k of Array.isArray(schema.required) ? schema.required : []) {
    if (typeof k === 'string' && !(k in values)) values[k] = stringValue({}, k);
  }
}

/// Values for an object schema: every property, then what its conditions select, then a string for
/// each `required` name the schema describes nowhere (the schema is still satisfied by a value there).
export function objectValue(schema) {
  const values = {};
  addProperties(schema.properties, values);
  addConditional(schema, values);
  addRequired(schema, values);
  return values;
}

/// Values for a template's `spec.parameters` (one schema or a list of form pages).
export function templateValues(parameters) {
  const pages = Array.isArray(parameters) ? parameters : parameters ? [parameters] : [];
  const values = {};
  for (const page of pages) Object.assign(values, objectValue(page ?? {}));
  return values;
}

/// Every RepoUrlPicker's allowed hosts in a template's parameters (to configure integrations for).
export function repoHosts(parameters) {
  const hosts = new Set();
  const walk = (s) => {
    if (!s || typeof s !== 'object') return;
    if (s['ui:field'] === 'RepoUrlPicker') for (const h of pickerOptions(s).allowedHosts ?? []) hosts.add(h);
    for (const v of Object.values(s)) walk(v);
  };
  walk(parameters);
  return hosts;
}
