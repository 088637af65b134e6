//! Word search: the words of an entity's name, title, tags and description, normalised by the server
//! (lowercase, split at every character that is not a letter or digit) into four `entities` columns,
//! indexed on SQLite by an FTS5 table with prefix indexes (kept in step by triggers, so every write
//! transaction updates it) and on PostgreSQL by a generated `tsvector` (weights A to D, one per field)
//! with a GIN index. Rows stored before this migration have NULL words until the server fills them in
//! at start-up (`catalog::words::backfill`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ADD_COLUMNS: &[&str] = &[
    "ALTER TABLE entities ADD COLUMN words_name TEXT",
    "ALTER TABLE entities ADD COLUMN words_title TEXT",
    "ALTER TABLE entities ADD COLUMN words_tags TEXT",
    "ALTER TABLE entities ADD COLUMN words_description TEXT",
];

/// The FTS5 table reads its text from `entities` (external content). Its tokenizer keeps every letter,
/// digit and mark inside a word, so it splits the stored text exactly where the server put spaces;
/// prefix indexes of 1 to 3 characters serve what a search box sends while someone types.
const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE entities_words USING fts5(words_name, words_title, words_tags, \
     words_description, content='entities', content_rowid='id', \
     tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M* So'\", prefix='1 2 3')",
    "INSERT INTO entities_words(entities_words) VALUES ('rebuild')",
    "CREATE TRIGGER entities_words_insert AFTER INSERT ON entities BEGIN \
       INSERT INTO entities_words(rowid, words_name, words_title, words_tags, words_description) \
       VALUES (new.id, new.words_name, new.words_title, new.words_tags, new.words_description); END",
    "CREATE TRIGGER entities_words_delete AFTER DELETE ON entities BEGIN \
       INSERT INTO entities_words(entities_words, rowid, words_name, words_title, words_tags, words_description) \
       VALUES ('delete', old.id, old.words_name, old.words_title, old.words_tags, old.words_description); END",
    "CREATE TRIGGER entities_words_update AFTER UPDATE OF id, words_name, words_title, words_tags, \
     words_description ON entities BEGIN \
       INSERT INTO entities_words(entities_words, rowid, words_name, words_title, words_tags, words_description) \
       VALUES ('delete', old.id, old.words_name, old.words_title, old.words_tags, old.words_description); \
       INSERT INTO entities_words(rowid, words_name, words_title, words_tags, words_description) \
       VALUES (new.id, new.words_name, new.words_title, new.words_tags, new.words_description); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS entities_words_update",
    "DROP TRIGGER IF EXISTS entities_words_delete",
    "DROP TRIGGER IF EXISTS entities_words_insert",
    "DROP TABLE IF EXISTS entities_words",
    "ALTER TABLE entities DROP COLUMN words_description",
    "ALTER TABLE entities DROP COLUMN words_tags",
    "ALTER TABLE entities DROP COLUMN words_title",
    "ALTER TABLE entities DROP COLUMN words_name",
];

/// `simple` has no stop words and no stemming: each stored word is one lexeme, as in FTS5.
const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE entities ADD COLUMN words tsvector GENERATED ALWAYS AS ( \
       setweight(to_tsvector('simple', coalesce(words_name, '')), 'A') || \
       setweight(to_tsvector('simple', coalesce(words_title, '')), 'B') || \
       setweight(to_tsvector('simple', coalesce(words_tags, '')), 'C') || \
       setweight(to_tsvector('simple', coalesce(words_description, '')), 'D')) STORED",
    "CREATE INDEX ix_entities_words ON entities USING gin (words)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS ix_entities_words",
    "ALTER TABLE entities DROP COLUMN words",
    "ALTER TABLE entities DROP COLUMN words_description",
    "ALTER TABLE entities DROP COLUMN words_tags",
    "ALTER TABLE entities DROP COLUMN words_title",
    "ALTER TABLE entities DROP COLUMN words_name",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for s in statements {
        db.execute_unprepared(s).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                run(manager, ADD_COLUMNS).await?;
                run(manager, SQLITE_UP).await
            }
            DbBackend::Postgres => {
                run(manager, ADD_COLUMNS).await?;
                run(manager, POSTGRES_UP).await
            }
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, SQLITE_DOWN).await,
            DbBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => Ok(()),
        }
    }
}
