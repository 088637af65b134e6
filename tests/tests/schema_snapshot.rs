//! `schema.graphql` is exactly what the server serves (built without a database).

#[test]
fn checked_in_sdl_matches_the_server() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let served = api::graphql::schema::sdl();
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != served {
        if std::env::var("UPDATE_SCHEMA").is_ok() {
            std::fs::write(&path, &served).expect("write schema.graphql");
        } else {
            panic!("schema.graphql is out of date: run `cargo run -p api -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test)");
        }
    }
}
