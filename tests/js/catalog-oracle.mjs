// Backstage's verdict on catalog files, for the differential test in tests/it/parity.rs.
//
// Usage: node catalog-oracle.mjs FILELIST.json > verdicts.json
// FILELIST.json is a JSON array of absolute paths. For each file the output maps its path to
// { accepted: ["kind:namespace/name", ...], rejected: ["reason", ...] }.
//
// Each document goes through what a stock Backstage catalog does with a file it reads:
// `parseEntityYaml` (yaml 2: parseAllDocuments, errors reject the document, null documents are skipped,
// non-objects rejected), the default entity policies the catalog builder installs (SchemaValid,
// DefaultNamespace, NoForeignRootFields, FieldFormat), the kind validators (BuiltinKindsEntityProcessor's
// and the scaffolder's Template validator: the first whose kind/apiVersion match decides, none matching
// means "no processor recognized the entity"), and the relation refs BuiltinKindsEntityProcessor parses
// in postProcessEntity. Within one file a later document with the same ref replaces the earlier one.
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'yaml';
import { createRequire } from 'node:module';

// The CommonJS builds: the ESM build of the alpha entry point does not load under plain node.
const require = createRequire(import.meta.url);
const {
  EntityPolicies,
  SchemaValidEntityPolicy,
  DefaultNamespaceEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  FieldFormatEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  parseEntityRef,
  stringifyEntityRef,
} = require('@backstage/catalog-model');
const { mcpServerApiEntityValidator } = require('@backstage/catalog-model/alpha');
const { templateEntityV1beta3Validator } = require('@backstage/plugin-scaffolder-common');

const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);

// An API of type mcp-server is checked by its own schema (remotes instead of a definition).
const apiValidator = {
  async check(entity) {
    if (entity?.spec?.type === 'mcp-server') {
      return mcpServerApiEntityValidator.check(entity);
    }
    return apiEntityV1alpha1Validator.check(entity);
  },
};

const validators = [
  apiValidator,
  componentEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  templateEntityV1beta3Validator,
];

// spec fields BuiltinKindsEntityProcessor (and the scaffolder's processor, for Template owner) turns into
// relations, with the kind a bare name defaults to.
const relationFields = {
  Component: [['owner', 'Group'], ['subcomponentOf', 'Component'], ['providesApis', 'API'],
    ['consumesApis', 'API'], ['dependsOn', undefined], ['dependencyOf', undefined], ['system', 'System']],
  API: [['owner', 'Group'], ['system', 'System']],
  Resource: [['owner', 'Group'], ['dependsOn', undefined], ['dependencyOf', undefined], ['system', 'System']],
  System: [['owner', 'Group'], ['domain', 'Domain']],
  Domain: [['owner', 'Group'], ['subdomainOf', 'Domain']],
  Group: [['parent', 'Group'], ['children', 'Group'], ['members', 'User']],
  User: [['memberOf', 'Group']],
  Template: [['owner', 'Group']],
};

function checkRelations(entity) {
  const fields = relationFields[entity.kind] ?? [];
  for (const [key, defaultKind] of fields) {
    const targets = entity.spec?.[key];
    if (!targets) continue;
    for (const target of [targets].flat()) {
      parseEntityRef(target, { defaultKind, defaultNamespace: entity.metadata.namespace });
    }
  }
}

// Backstage's PlaceholderProcessor runs before validation: `$text`, `$json` and `$yaml` read a file
// relative to the document's file (a failed read fails the entity). Remote targets are left as written:
// the tests reach only loopback, and Greenroom's read policy refuses such hosts there too.
function resolvePlaceholders(value, dir) {
  if (Array.isArray(value)) return value.map(v => resolvePlaceholders(v, dir));
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  const target = value[keys[0]];
  if (keys.length === 1 && ['$text', '$json', '$yaml'].includes(keys[0]) && typeof target === 'string'
    && !/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    const text = fs.readFileSync(path.resolve(dir, target), 'utf8');
    if (keys[0] === '$json') return JSON.parse(text);
    if (keys[0] === '$yaml') return yaml.parse(text);
    return text;
  }
  return Object.fromEntries(keys.map(k => [k, resolvePlaceholders(value[k], dir)]));
}

async function verdict(json) {
  const entity = await policy.enforce(json);
  if (!entity) throw new Error('rejected by policy');
  let recognized = false;
  for (const v of validators) {
    if (await v.check(entity)) {
      recognized = true;
      break;
    }
  }
  if (!recognized) throw new Error(`No processor recognized the entity ${entity.kind}`);
  checkRelations(entity);
  return stringifyEntityRef(entity);
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

async function judgeFile(file) {
  const accepted = new Map();
  const rejected = [];
  let documents;
  try {
    documents = yaml.parseAllDocuments(fs.readFileSync(file, 'utf8')).filter(d => d);
  } catch (e) {
    return { accepted: [], rejected: [`YAML: ${e.message}`] };
  }
  if (!Array.isArray(documents)) documents = [documents];
  for (const doc of documents) {
    if (doc.errors?.length) {
      rejected.push(`YAML: ${doc.errors[0].message}`);
      continue;
    }
    let json;
    try {
      json = doc.toJSON();
    } catch (e) {
      rejected.push(`YAML: ${e.message}`);
      continue;
    }
    if (json === null || json === undefined) continue;
    if (!isPlainObject(json)) {
      rejected.push(`Expected object at root, got ${typeof json}`);
      continue;
    }
    try {
      const ref = await verdict(resolvePlaceholders(json, path.dirname(file)));
      accepted.delete(ref);
      accepted.set(ref, true);
    } catch (e) {
      rejected.push(String(e.message ?? e).split(' To learn more')[0]);
    }
  }
  return { accepted: [...accepted.keys()].sort(), rejected };
}

const files = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
for (const f of files) out[f] = await judgeFile(f);
process.stdout.write(JSON.stringify(out));
