//! Deterministic synthetic Backstage catalog generator (a Rust port of the shape of bench/gen_catalog.py).
//!
//! Writes exactly N entities (apiVersion `backstage.io/v1alpha1`) as multi-document YAML files
//! of about `per_file` entities each (`DIR/<kind>/<kind>-0001.yaml`, ...) plus `DIR/root.yaml`,
//! a `kind: Location` (not counted in N) whose `spec.targets` list every file as
//! `./<kind>/<kind>-0001.yaml`. Kind mix, name prefixes, fields, YAML layout and reference styles
//! (`team-00003`, `system-00012`, `api-00042`, `component:component-00007`, ...) are those of the
//! Python generator; every reference points to a generated entity. The PRNG is SplitMix64, so
//! the picks differ from Python's, but output depends only on (entities, seed, per_file).
//! Entities are written as they are generated: memory is O(per_file) plus the name tables.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::yaml::Yaml;

/// (kind, directory, share of N, entity name prefix), in output order.
const KIND_MIX: [(&str, &str, f64, &str); 7] = [
    ("Domain", "domain", 0.01, "domain"),
    ("System", "system", 0.05, "system"),
    ("Group", "group", 0.03, "team"),
    ("User", "user", 0.15, "user"),
    ("Component", "component", 0.45, "component"),
    ("API", "api", 0.20, "api"),
    ("Resource", "resource", 0.11, "resource"),
];
/// Each group has up to this many child groups.
const GROUP_BRANCHING: usize = 4;

#[rustfmt::skip]
mod words {
    pub const LIFECYCLES: &[&str] = &["production", "production", "production", "experimental", "deprecated"];
    pub const COMPONENT_TYPES: &[&str] = &["service", "service", "service", "website", "library"];
    pub const API_TYPES: &[&str] = &["openapi", "openapi", "grpc", "asyncapi", "graphql"];
    pub const RESOURCE_TYPES: &[&str] = &["database", "s3-bucket", "queue", "cache", "topic"];
    pub const TAGS: &[&str] = &["java", "go", "python", "typescript", "rust", "kotlin", "react",
        "postgres", "kafka", "grpc", "internal", "public", "pci", "gdpr"];
    pub const WORDS: &[&str] = &["billing", "search", "checkout", "catalog", "identity", "payments",
        "inventory", "shipping", "analytics", "messaging", "profile", "recommendations", "pricing",
        "media", "notifications", "reporting"];
    pub const FIRST_NAMES: &[&str] = &["Alex", "Sam", "Robin", "Kim", "Jordan", "Taylor", "Morgan",
        "Casey", "Jamie", "Riley", "Avery", "Quinn", "Drew", "Noa"];
    pub const LAST_NAMES: &[&str] = &["Smith", "Berg", "Nakamura", "Okafor", "Silva", "Novak",
        "Larsen", "Dubois", "Rossi", "Kowalski", "Haddad", "Chen"];
    pub const API_DEFINITIONS: &[(&str, &str)] = &[
        ("openapi", "openapi: 3.0.0\ninfo:\n  title: {name}\n  version: 1.0.0\npaths: {}\n"),
        ("asyncapi", "asyncapi: 2.6.0\ninfo:\n  title: {name}\n  version: 1.0.0\nchannels: {}\n"),
        ("grpc", "syntax = \"proto3\";\nservice Svc { rpc Ping (Empty) returns (Empty); }\nmessage Empty {}\n"),
        ("graphql", "type Query {\n  ping: String\n}\n"),
    ];
}
use words::*;

/// Generator options: `entities` >= 7 (one per kind), `per_file` >= 1.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub entities: usize,
    pub seed: u64,
    pub per_file: usize,
}

/// What was written. `files` counts every YAML file including `root.yaml` (like the Python
/// summary's `files`); `per_kind` is in output order (Domain, System, Group, User, ...).
#[derive(Debug, Clone)]
pub struct GenSummary {
    pub entities: usize,
    pub files: usize,
    pub per_kind: Vec<(&'static str, usize)>,
    pub root: PathBuf,
}

/// SplitMix64: tiny, deterministic, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..n` for `n > 0` (modulo bias is at most n / 2^64).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn pick<'a, T: AsRef<str>>(&mut self, seq: &'a [T]) -> &'a str {
        seq[self.below(seq.len())].as_ref()
    }

    /// `k` distinct elements of `seq` (k clamped to its length), in pick order.
    fn pick_some<'a>(&mut self, seq: &'a [String], k: usize) -> Vec<&'a str> {
        let k = k.min(seq.len());
        let mut chosen: Vec<&str> = Vec::with_capacity(k);
        while chosen.len() < k {
            let x = self.pick(seq);
            if !chosen.contains(&x) {
                chosen.push(x);
            }
        }
        chosen
    }
}

/// Split `n` over KIND_MIX by largest remainder, at least 1 per kind.
fn kind_counts(n: usize) -> io::Result<[usize; 7]> {
    if n < KIND_MIX.len() {
        let msg = format!("entities must be at least {}", KIND_MIX.len());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    }
    let raw = KIND_MIX.map(|k| n as f64 * k.2);
    let mut counts = raw.map(|r| r as usize);
    let frac = |i: usize| raw[i] - counts[i] as f64;
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&a, &b| frac(b).total_cmp(&frac(a)).then(a.cmp(&b)));
    let missing = n - counts.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        counts[i] += 1;
    }
    for i in 0..counts.len() {
        if counts[i] == 0 {
            // Tiny n: borrow from the largest kind (first one on ties).
            let j = (0..counts.len()).max_by_key(|&k| (counts[k], usize::MAX - k));
            counts[j.unwrap_or(0)] -= 1;
            counts[i] = 1;
        }
    }
    debug_assert_eq!(counts.iter().sum::<usize>(), n);
    Ok(counts)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    first.unwrap_or_default() + &chars.as_str().to_lowercase()
}

/// Writes entities of one kind after another, one file per `per_file` entities.
struct Writer<'a> {
    out: &'a Path,
    per_file: usize,
    kind: usize,
    part: usize,
    buf: Yaml,
    in_buf: usize,
    targets: Vec<String>,
}

impl Writer<'_> {
    /// Starts an entity of KIND_MIX[kind]: writes its header and metadata, returns the
    /// buffer positioned after `spec:`.
    fn begin(&mut self, kind: usize, rng: &mut Rng, name: &str) -> io::Result<&mut Yaml> {
        if kind != self.kind {
            self.flush()?;
            (self.kind, self.part) = (kind, 0);
        }
        let word = rng.pick(WORDS);
        let title = format!("{} {name}", capitalize(word));
        let lower = KIND_MIX[kind].0.to_lowercase();
        let description = format!("Synthetic {lower} {name} for the {word} area.");
        let draws = rng.below(4);
        let tags: BTreeSet<&str> = (0..draws).map(|_| rng.pick(TAGS)).collect();
        let tags: Vec<&str> = tags.into_iter().collect();
        self.in_buf += 1;
        Ok(self
            .buf
            .begin(KIND_MIX[kind].0)
            .kv(1, "name", name)
            .kv(1, "title", &title)
            .kv(1, "description", &description)
            .list(1, "tags", &tags, false)
            .section(0, "spec"))
    }

    /// Writes the buffered entities (if any) as the next file of the current kind.
    fn flush(&mut self) -> io::Result<()> {
        if self.in_buf == 0 {
            return Ok(());
        }
        let dir = KIND_MIX[self.kind].1;
        if self.part == 0 {
            fs::create_dir_all(self.out.join(dir))?;
        }
        self.part += 1;
        let rel = format!("{dir}/{dir}-{:04}.yaml", self.part);
        fs::write(self.out.join(&rel), self.buf.0.as_bytes())?;
        self.targets.push(format!("./{rel}"));
        self.buf.0.clear();
        self.in_buf = 0;
        Ok(())
    }

    /// Call after each entity: writes a file once `per_file` entities are buffered.
    fn end(&mut self) -> io::Result<()> {
        if self.in_buf >= self.per_file {
            self.flush()?;
        }
        Ok(())
    }
}

/// Indexes of the kinds in [`KIND_MIX`].
const DOMAIN: usize = 0;
const SYSTEM: usize = 1;
const GROUP: usize = 2;
const USER: usize = 3;
const COMPONENT: usize = 4;
const API: usize = 5;
const RESOURCE: usize = 6;

/// The names of every kind's entities (references only need the names).
struct Names<'a> {
    domains: &'a [String],
    systems: &'a [String],
    groups: &'a [String],
    users: &'a [String],
    components: &'a [String],
    apis: &'a [String],
    resources: &'a [String],
}

/// Generate the catalog into `out` (created if missing) and write `out/root.yaml`.
///
/// # Errors
/// `InvalidInput` if `entities < 7` or `per_file < 1`; otherwise any file-system error.
pub fn generate(opts: &GenOptions, out: &Path) -> io::Result<GenSummary> {
    if opts.per_file < 1 {
        let msg = "per_file must be >= 1";
        return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    }
    let counts = kind_counts(opts.entities)?;
    fs::create_dir_all(out)?;
    let mut rng = Rng(opts.seed);
    let width = opts.entities.to_string().len().max(5);
    let names: [Vec<String>; 7] = std::array::from_fn(|k| {
        (1..=counts[k])
            .map(|i| format!("{}-{i:0width$}", KIND_MIX[k].3))
            .collect()
    });
    let [domains, systems, groups, users, components, apis, resources] = &names;
    let n = Names {
        domains,
        systems,
        groups,
        users,
        components,
        apis,
        resources,
    };
    let mut w = Writer {
        out,
        per_file: opts.per_file,
        kind: DOMAIN,
        part: 0,
        buf: Yaml::default(),
        in_buf: 0,
        targets: Vec::new(),
    };
    // Kinds are generated in output order.
    write_domains(&mut w, &mut rng, &n)?;
    let system_owner = write_systems(&mut w, &mut rng, &n)?;
    write_groups(&mut w, &mut rng, &n)?;
    write_users(&mut w, &mut rng, &n)?;
    let owners = Owners {
        names: &n,
        system_owner,
    };
    write_components(&mut w, &mut rng, &owners)?;
    write_apis(&mut w, &mut rng, &owners)?;
    write_resources(&mut w, &mut rng, &owners)?;
    w.flush()?;
    let root = write_root(out, &w.targets)?;
    Ok(GenSummary {
        entities: opts.entities,
        files: w.targets.len() + 1,
        per_kind: KIND_MIX.iter().zip(counts).map(|(k, c)| (k.0, c)).collect(),
        root,
    })
}

/// Domains, each owned by a group.
fn write_domains(w: &mut Writer<'_>, rng: &mut Rng, n: &Names<'_>) -> io::Result<()> {
    for name in n.domains {
        let y = w.begin(DOMAIN, rng, name)?;
        y.kv(1, "owner", rng.pick(n.groups));
        w.end()?;
    }
    Ok(())
}

/// Systems, each owned by a group and in a domain; returns each system's owner.
fn write_systems<'n>(w: &mut Writer<'_>, rng: &mut Rng, n: &Names<'n>) -> io::Result<Vec<&'n str>> {
    let mut system_owner: Vec<&str> = Vec::with_capacity(n.systems.len());
    for name in n.systems {
        let y = w.begin(SYSTEM, rng, name)?;
        let owner = rng.pick(n.groups);
        system_owner.push(owner);
        y.kv(1, "owner", owner).kv(1, "domain", rng.pick(n.domains));
        w.end()?;
    }
    Ok(system_owner)
}

/// Groups: teams in a tree of [`GROUP_BRANCHING`] children each.
fn write_groups(w: &mut Writer<'_>, rng: &mut Rng, n: &Names<'_>) -> io::Result<()> {
    let groups = n.groups;
    for (i, name) in groups.iter().enumerate() {
        let number = name.rsplit('-').next().unwrap_or(name);
        let y = w.begin(GROUP, rng, name)?;
        y.kv(1, "type", "team").section(1, "profile");
        y.kv(2, "displayName", &format!("Team {number}"));
        if i > 0 {
            y.kv(1, "parent", &groups[(i - 1) / GROUP_BRANCHING]);
        }
        y.list::<&str>(1, "children", &[], true);
        w.end()?;
    }
    Ok(())
}

/// Users, each a member of one or two groups.
fn write_users(w: &mut Writer<'_>, rng: &mut Rng, n: &Names<'_>) -> io::Result<()> {
    for name in n.users {
        let y = w.begin(USER, rng, name)?;
        let (first, last) = (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
        let k = 1 + usize::from(rng.random() < 0.2);
        y.section(1, "profile")
            .kv(2, "displayName", &format!("{first} {last}"))
            .kv(2, "email", &format!("{name}@example.com"))
            .list(1, "memberOf", &rng.pick_some(n.groups, k), true);
        w.end()?;
    }
    Ok(())
}

/// The names, and the owner of each system, for the kinds placed in systems.
struct Owners<'n> {
    names: &'n Names<'n>,
    system_owner: Vec<&'n str>,
}

impl<'n> Owners<'n> {
    /// (owner, system): mostly the system's owner, sometimes another team.
    fn owned_by_system(&self, rng: &mut Rng) -> (&'n str, &'n str) {
        let systems = self.names.systems;
        let system = rng.below(systems.len());
        let other = rng.random() >= 0.7;
        let owner = if other {
            rng.pick(self.names.groups)
        } else {
            self.system_owner[system]
        };
        (owner, &systems[system])
    }
}

/// Components: in a system, depending on components and resources, providing and consuming APIs.
fn write_components(w: &mut Writer<'_>, rng: &mut Rng, o: &Owners<'_>) -> io::Result<()> {
    let n = o.names;
    for name in n.components {
        let y = w.begin(COMPONENT, rng, name)?;
        let (owner, system) = o.owned_by_system(rng);
        let mut depends_on: Vec<String> = Vec::new();
        for _ in 0..rng.below(4) {
            let r = if rng.random() < 0.6 && n.components.len() > 1 {
                let target = rng.pick(n.components);
                if target == name {
                    continue;
                }
                format!("component:{target}")
            } else {
                format!("resource:{}", rng.pick(n.resources))
            };
            if !depends_on.contains(&r) {
                depends_on.push(r);
            }
        }
        let (provides, consumes) = (rng.below(3), rng.below(4));
        y.kv(1, "type", rng.pick(COMPONENT_TYPES))
            .kv(1, "lifecycle", rng.pick(LIFECYCLES))
            .kv(1, "owner", owner)
            .kv(1, "system", system)
            .list(1, "dependsOn", &depends_on, false)
            .list(1, "providesApis", &rng.pick_some(n.apis, provides), false)
            .list(1, "consumesApis", &rng.pick_some(n.apis, consumes), false);
        w.end()?;
    }
    Ok(())
}

/// APIs: in a system, with a definition of their type.
fn write_apis(w: &mut Writer<'_>, rng: &mut Rng, o: &Owners<'_>) -> io::Result<()> {
    for name in o.names.apis {
        let y = w.begin(API, rng, name)?;
        let (owner, system) = o.owned_by_system(rng);
        let api_type = rng.pick(API_TYPES);
        let template = API_DEFINITIONS
            .iter()
            .find(|d| d.0 == api_type)
            .map_or("", |d| d.1);
        y.kv(1, "type", api_type)
            .kv(1, "lifecycle", rng.pick(LIFECYCLES))
            .kv(1, "owner", owner)
            .kv(1, "system", system)
            .kv(1, "definition", &template.replace("{name}", name));
        w.end()?;
    }
    Ok(())
}

/// Resources, in a system.
fn write_resources(w: &mut Writer<'_>, rng: &mut Rng, o: &Owners<'_>) -> io::Result<()> {
    for name in o.names.resources {
        let y = w.begin(RESOURCE, rng, name)?;
        let (owner, system) = o.owned_by_system(rng);
        y.kv(1, "type", rng.pick(RESOURCE_TYPES))
            .kv(1, "owner", owner)
            .kv(1, "system", system);
        w.end()?;
    }
    Ok(())
}

/// Writes `out/root.yaml`, the Location that lists every file written.
fn write_root(out: &Path, targets: &[String]) -> io::Result<PathBuf> {
    let mut y = Yaml::default();
    y.begin("Location")
        .kv(1, "name", "synthetic-catalog-root")
        .kv(1, "description", "Root of the synthetic benchmark catalog")
        .section(0, "spec")
        .kv(1, "type", "file")
        .list(1, "targets", targets, true);
    let root = out.join("root.yaml");
    fs::write(&root, y.0)?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::yaml::scalar;

    fn temp_out(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let pid = std::process::id();
        std::env::temp_dir().join(format!("greenroom-gen-{tag}-{pid}-{nanos}"))
    }

    /// (`./kind/file.yaml`, contents) for every entity file, sorted.
    fn read_all(dir: &Path) -> Vec<(String, String)> {
        let mut files = Vec::new();
        for (_, kind_dir, _, _) in KIND_MIX {
            for f in fs::read_dir(dir.join(kind_dir)).unwrap() {
                let f = f.unwrap().path();
                let file = f.file_name().unwrap().to_string_lossy().into_owned();
                let text = fs::read_to_string(&f).unwrap();
                files.push((format!("./{kind_dir}/{file}"), text));
            }
        }
        files.sort();
        files
    }

    #[test]
    fn generates_exact_count_and_root_lists_every_file() {
        let out = temp_out("count");
        let opts = GenOptions {
            entities: 300,
            seed: 7,
            per_file: 40,
        };
        let summary = generate(&opts, &out).unwrap();
        let files = read_all(&out);
        let kind_lines = |t: &String| t.lines().filter(|l| l.starts_with("kind: ")).count();
        assert_eq!(files.iter().map(|(_, t)| kind_lines(t)).sum::<usize>(), 300);
        assert_eq!(summary.per_kind.iter().map(|p| p.1).sum::<usize>(), 300);
        assert_eq!(summary.files, files.len() + 1);
        let root = fs::read_to_string(&summary.root).unwrap();
        assert!(root.contains("\nkind: Location\n"));
        let listed: BTreeSet<&str> = root
            .lines()
            .filter_map(|l| l.strip_prefix("    - "))
            .collect();
        let on_disk: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(listed, on_disk);
        // Deterministic: the same options give byte-identical output.
        let again = temp_out("again");
        generate(&opts, &again).unwrap();
        assert_eq!(read_all(&again), files);
        fs::remove_dir_all(&out).ok();
        fs::remove_dir_all(&again).ok();
    }

    #[test]
    fn kind_counts_are_exact() {
        for n in [7, 8, 50, 99, 101, 1000, 12345] {
            let c = kind_counts(n).unwrap();
            assert_eq!(c.iter().sum::<usize>(), n);
            assert!(c.iter().all(|&x| x >= 1));
        }
        assert_eq!(kind_counts(1000).unwrap(), [10, 50, 30, 150, 450, 200, 110]);
        assert!(kind_counts(6).is_err());
    }

    #[test]
    fn scalars_are_quoted_when_needed() {
        let q = |x: &str| scalar(x).into_owned();
        for plain in [
            "team-00001",
            "./api/api-0001.yaml",
            "component:component-00007",
        ] {
            assert_eq!(q(plain), plain);
        }
        assert_eq!(q("yes"), "\"yes\"");
        assert_eq!(q("a:"), "\"a:\"");
        assert_eq!(q("Billing x"), "\"Billing x\"");
        assert_eq!(q("a\"b\\\n\u{1}é"), "\"a\\\"b\\\\\\n\\u0001\\u00e9\"");
    }
}
