//! The records of processing (GDPR art. 30), rendered for people:
//! `docs/processing-register.md`, written from the machine-readable
//! `docs/processing-register.json` by `cargo xtask processing-register`. A
//! test fails when the page no longer matches the register.

use std::fmt::Write;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::repo::Repo;

pub const REGISTER_FILE: &str = "docs/processing-register.json";
pub const PAGE_FILE: &str = "docs/processing-register.md";

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.replace('|', "\\|").replace('\n', " "),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("; "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The page for a register.
pub fn render(register: &Value) -> String {
    let mut page = String::from(
        "# Records of processing (GDPR art. 30)\n\n\
         Written by `cargo xtask processing-register` from\n\
         [`processing-register.json`](processing-register.json), which the gateway\n\
         serves at `GET /api/v1/public/processing-register` and which\n\
         `tests/e2e/processing_register.rs` holds to the databases. Do not edit\n\
         this page; edit the register.\n\n",
    );
    for (heading, key) in [
        ("Controller", "controller"),
        ("Processor", "processor"),
        ("Transfers outside the EEA", "transfers_outside_eea"),
        ("Sources", "sources"),
    ] {
        let _ = writeln!(page, "**{heading}.** {}\n", text(&register[key]));
    }
    page.push_str("## Processing activities\n\n| activity | purpose | legal basis | data subjects | security measures |\n|---|---|---|---|---|\n");
    for activity in register["activities"].as_array().into_iter().flatten() {
        let _ = writeln!(
            page,
            "| `{}` | {} | {} | {} | {} |",
            text(&activity["id"]),
            text(&activity["purpose"]),
            text(&activity["legal_basis"]),
            text(&activity["data_subjects"]),
            text(&activity["security_measures"]),
        );
    }
    page.push_str(
        "\n## Processors and recipients\n\n| who | receives | why | where |\n|---|---|---|---|\n",
    );
    for processor in register["processors"].as_array().into_iter().flatten() {
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} |",
            text(&processor["name"]),
            text(&processor["receives"]),
            text(&processor["purpose"]),
            text(&processor["location"]),
        );
    }
    page.push_str("\n## Categories of personal data and when they are erased\n\n| category | what | whose | activities | erased | where it is kept |\n|---|---|---|---|---|---|\n");
    for category in register["categories"].as_array().into_iter().flatten() {
        let places: Vec<String> = category["stored_in"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|place| {
                format!(
                    "`{}.{}.{}`",
                    text(&place["service"]),
                    text(&place["table"]),
                    text(&place["column"])
                )
            })
            .collect();
        let _ = writeln!(
            page,
            "| `{}` | {} | {} | {} | **{}**: {} | {} |",
            text(&category["id"]),
            text(&category["description"]),
            text(&category["data_subjects"]),
            text(&category["activities"]),
            text(&category["erasure"]["rule"]),
            text(&category["erasure"]["time_limit"]),
            places.join(", "),
        );
    }
    page
}

fn read(repo_root: &std::path::Path) -> Result<Value> {
    let path = repo_root.join(REGISTER_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Writes the page.
pub fn write(repo: &Repo) -> Result<()> {
    let page = render(&read(repo.root())?);
    let path = repo.root().join(PAGE_FILE);
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {PAGE_FILE}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_the_register() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let register = read(&root).expect("the register");
        let committed = std::fs::read_to_string(root.join(PAGE_FILE)).expect("the page");
        assert!(
            committed == render(&register),
            "{PAGE_FILE} is out of date: run `cargo xtask processing-register`"
        );
        assert!(committed.contains("`worker.national_id`"));
    }
}
