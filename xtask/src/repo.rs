//! Where things live in the checkout.

use std::path::{Path, PathBuf};

/// The repository this xtask was built from, and the git-ignored `.hms/`
/// folder in it where development state (private servers, logs, secrets,
/// tools) is kept.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    pub fn locate() -> Self {
        // xtask is always built from `<root>/xtask`, so this works from any
        // working directory and needs no search for the workspace manifest.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask's manifest folder has the workspace root as parent")
            .to_path_buf();
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.hms/<parts>` under the repository root.
    pub fn hms(&self, relative: &str) -> PathBuf {
        let base = self.root.join(".hms");
        if relative.is_empty() {
            base
        } else {
            base.join(relative)
        }
    }

    /// `path` relative to the repository root when it is inside it, for
    /// shorter messages.
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}
