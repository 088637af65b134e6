use std::process::ExitCode;

/// mimalloc: GraphQL responses and SQL rows make many short-lived allocations; glibc malloc spent a fifth
/// of a page query's CPU in `malloc_consolidate`/`_int_malloc`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match api::run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
