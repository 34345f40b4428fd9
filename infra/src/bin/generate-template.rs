//! Writes `template.yaml` from the parts under `infra/template/` (see `bridge_infra::generate`).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("infra/ sits in the repository");
    let rendered =
        match bridge_infra::generate::render(&root.join(bridge_infra::generate::SOURCE_DIR)) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("generate-template: {err}");
                return ExitCode::FAILURE;
            }
        };
    let target = root.join("template.yaml");
    if let Err(err) = std::fs::write(&target, rendered) {
        eprintln!("generate-template: writing {}: {err}", target.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", target.display());
    ExitCode::SUCCESS
}
