//! Tools the tests and the development setup use, pinned so every machine
//! runs the same version: Python tools from PyPI, each in its own virtual
//! environment under `.hms/tools/`, and packages from npm in
//! `.hms/tools/node_modules`. Nothing is downloaded but packages from those
//! registries.

use std::path::PathBuf;

use anyhow::Result;
use tokio::process::Command;

use crate::process;
use crate::repo::Repo;

/// A Python tool the tests use, installed from PyPI into its own virtual
/// environment under `.hms/tools/` when it is not on the path.
pub struct PypiTool {
    /// Its folder under `.hms/tools/`.
    name: &'static str,
    /// Pinned, so every machine tests with the same version.
    package: &'static str,
    binary: &'static str,
    /// What the tests need it for, for the error when it cannot be had.
    purpose: &'static str,
}

pub const MOTO: PypiTool = PypiTool {
    name: "moto",
    package: "moto[server]==5.2.5",
    binary: "moto_server",
    purpose: "the S3 the media tests use",
};

pub const SCHEMATHESIS: PypiTool = PypiTool {
    name: "schemathesis",
    package: "schemathesis==4.32.5",
    binary: "st",
    purpose: "fuzzes the gateway against its OpenAPI document",
};

/// Validates Kubernetes manifests against the API's schemas, which it
/// carries, so it needs no network.
pub const KUBERNETES_VALIDATE: PypiTool = PypiTool {
    name: "kubernetes-validate",
    package: "kubernetes-validate==1.37.0",
    binary: "kubernetes-validate",
    purpose: "checks every kustomize overlay against the Kubernetes schemas",
};

/// A real SMTP server that keeps what it receives in a Maildir: where
/// notifications' email goes in development and tests.
pub const AIOSMTPD: PypiTool = PypiTool {
    name: "aiosmtpd",
    package: "aiosmtpd==1.4.6",
    binary: "aiosmtpd",
    purpose: "the SMTP server notifications sends to in development and tests",
};

pub async fn find_or_install(repo: &Repo, tool: &PypiTool) -> Result<PathBuf> {
    let venv = repo.hms(&format!("tools/{}", tool.name));
    let local = venv.join("bin").join(tool.binary);
    if process::is_executable(&local) {
        return Ok(local);
    }
    if let Some(found) = process::find_program(tool.binary, &[]) {
        return Ok(found);
    }
    let Some(python) = process::find_program("python3", &[]) else {
        anyhow::bail!(
            "python3 is needed to install {} from PyPI ({}); install python3 with venv, \
             or put {} on PATH",
            tool.package,
            tool.purpose,
            tool.binary
        );
    };
    let mut create = Command::new(python);
    create
        .args(["-m", "venv"])
        .arg(&venv)
        .current_dir(repo.root());
    process::run_streaming(
        &mut create,
        &format!("python3 -m venv {}", repo.show(&venv)),
    )
    .await?;
    let mut install = Command::new(venv.join("bin/pip"));
    install
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            tool.package,
        ])
        .current_dir(repo.root());
    process::run_streaming(
        &mut install,
        &format!("{}/bin/pip install {}", repo.show(&venv), tool.package),
    )
    .await?;
    anyhow::ensure!(
        process::is_executable(&local),
        "pip installed {}, but {} is missing",
        tool.package,
        repo.show(&local)
    );
    Ok(local)
}

/// A tool from the npm registry, installed into `.hms/tools/node_modules`
/// when it is not on the path.
pub struct NpmTool {
    /// Pinned, so every machine runs the same version.
    package: &'static str,
    /// The file the tests or the xtask use, under `node_modules`.
    file: &'static str,
    /// Its name on the path, if one installed there will do.
    on_path: Option<&'static str>,
}

/// buf, for `buf lint` on the protos; pinned so every machine lints them
/// with the same rules.
pub const BUF: NpmTool = NpmTool {
    package: "@bufbuild/buf@1.75.0",
    file: ".bin/buf",
    on_path: Some("buf"),
};

/// axe-core, the accessibility rules the web front end's browser tests
/// run against each page (WCAG 2.1 A and AA).
pub const AXE: NpmTool = NpmTool {
    package: "axe-core@4.14.1",
    file: "axe-core/axe.min.js",
    on_path: None,
};

/// The tool from the path or `.hms/tools`, installed there with npm if
/// need be. Err holds why there is none.
pub async fn find_or_install_npm(
    repo: &Repo,
    tool: &NpmTool,
) -> std::result::Result<PathBuf, String> {
    if let Some(found) = tool
        .on_path
        .and_then(|name| process::find_program(name, &[]))
    {
        return Ok(found);
    }
    let local = repo.hms(&format!("tools/node_modules/{}", tool.file));
    if local.exists() {
        return Ok(local);
    }
    let Some(npm) = process::find_program("npm", &[]) else {
        return Err(format!(
            "{} is not in {}, and npm is not there to install it (install Node.js)",
            tool.package,
            repo.show(&local)
        ));
    };
    let prefix = repo.hms("tools");
    let shown = format!(
        "npm install --prefix {} --no-audit --no-fund {}",
        repo.show(&prefix),
        tool.package
    );
    let mut install = Command::new(npm);
    install
        .arg("install")
        .arg("--prefix")
        .arg(&prefix)
        .args(["--no-audit", "--no-fund", tool.package])
        .current_dir(repo.root());
    if let Err(error) = process::run_streaming(&mut install, &shown).await {
        return Err(format!(
            "{} could not be installed: {error:#}",
            tool.package
        ));
    }
    if local.exists() {
        Ok(local)
    } else {
        Err(format!(
            "npm installed {}, but {} is missing",
            tool.package,
            repo.show(&local)
        ))
    }
}
