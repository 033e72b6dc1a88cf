//! Python tools from PyPI the tests and the development setup use, each in
//! its own virtual environment under `.hms/tools/`, pinned so every machine
//! runs the same version. Nothing is downloaded but packages from PyPI.

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
