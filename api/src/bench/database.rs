//! Where a `greenroom bench` server keeps its catalog: a fresh SQLite file in the catalog's working
//! directory, or a fresh PostgreSQL database per catalog size, created and dropped through an admin URL
//! (`--postgres`).

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database};
use std::path::Path;

/// The database server a run of the benchmark measures.
#[derive(Clone, Debug)]
pub(super) enum Backend {
    Sqlite,
    /// An admin URL (any database the user may connect to and create databases from).
    Postgres {
        admin: reqwest::Url,
    },
}

impl Backend {
    /// PostgreSQL through `admin`, checked to be a `postgres://` or `postgresql://` URL.
    pub(super) fn postgres(admin: &str) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(admin).context("--postgres is not a URL")?;
        anyhow::ensure!(
            matches!(url.scheme(), "postgres" | "postgresql"),
            "--postgres wants a postgres:// URL, not {}://",
            url.scheme()
        );
        Ok(Self::Postgres { admin: url })
    }

    /// The name printed above this backend's tables.
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    /// A short tag for directory names.
    pub(super) fn tag(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres { .. } => "pg",
        }
    }

    /// The database of the catalog of `n` entities whose working directory is `dir` (not created yet).
    pub(super) fn database(&self, dir: &Path, n: usize) -> Db {
        match self {
            Self::Sqlite => Db {
                url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                kind: DbKind::Sqlite(dir.join("bench.db")),
            },
            Self::Postgres { admin } => {
                let name = format!("greenroom_bench_{}_{n}", std::process::id());
                let mut url = admin.clone();
                url.set_path(&format!("/{name}"));
                Db {
                    url: url.to_string(),
                    kind: DbKind::Postgres {
                        admin: admin.to_string(),
                        name,
                    },
                }
            }
        }
    }
}

/// One catalog's database: its URL for the server's configuration, and how to empty it.
#[derive(Clone, Debug)]
pub(super) struct Db {
    pub(super) url: String,
    kind: DbKind,
}

#[derive(Clone, Debug)]
enum DbKind {
    Sqlite(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Db {
    /// Makes the database empty: removes the SQLite file (and its WAL), or drops and creates the
    /// PostgreSQL database.
    pub(super) async fn reset(&self) -> anyhow::Result<()> {
        match &self.kind {
            DbKind::Sqlite(file) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
            }
            DbKind::Postgres { admin, name } => {
                let conn = Database::connect(admin.as_str())
                    .await
                    .context("connecting to the --postgres admin URL")?;
                conn.execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                ))
                .await?;
                conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                conn.close().await?;
            }
        }
        Ok(())
    }

    /// Drops a PostgreSQL database once its catalog is measured (SQLite files stay in the working
    /// directory with the rest).
    pub(super) async fn remove(&self) -> anyhow::Result<()> {
        if let DbKind::Postgres { admin, name } = &self.kind {
            let conn = Database::connect(admin.as_str()).await?;
            conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}
