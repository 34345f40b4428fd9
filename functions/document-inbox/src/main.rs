//! The Lambda binary: the function contract's runtime loop over [`document_inbox::DocumentInbox`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<document_inbox::DocumentInbox>().await
}
