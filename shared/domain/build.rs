//! Writes the UN/ECE Rec 20 unit codes (from `cefact-units`) as two strings of 3-byte
//! codes, sorted: the unit rule needs only a code's status, and the crate's own table
//! (names, symbols, revisions: thousands of string references) costs every function
//! binary that links it ~16,000 load-time relocations, a tenth of its cold start.

use std::fmt::Write;

fn main() {
    let mut in_force: Vec<&str> = Vec::new();
    let mut deleted: Vec<&str> = Vec::new();
    for unit in cefact_units::UnitCode::ALL {
        let code = unit.as_str();
        assert!(
            (1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_graphic()),
            "unit code {code:?} does not fit the table's 3 bytes"
        );
        if unit.status() == cefact_units::Status::Deleted {
            deleted.push(code);
        } else {
            in_force.push(code);
        }
    }
    let table = |codes: &mut Vec<&str>| {
        codes.sort_unstable();
        codes.dedup();
        codes.iter().fold(String::new(), |mut out, code| {
            let _ = write!(out, "{code:<3}");
            out
        })
    };
    let source = format!(
        "/// Rec 20 codes in force (3 bytes each, padded with spaces, sorted).\n\
         pub(crate) const UNITS_IN_FORCE: &str = {:?};\n\
         /// Rec 20 codes deleted from the recommendation (same layout).\n\
         pub(crate) const UNITS_DELETED: &str = {:?};\n",
        table(&mut in_force),
        table(&mut deleted)
    );
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("units.rs"), source).expect("write units.rs");
    println!("cargo::rerun-if-changed=build.rs");
}
