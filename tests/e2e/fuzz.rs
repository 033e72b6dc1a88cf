//! The OpenAPI document against the running gateway, fuzzed with
//! schemathesis (from PyPI; `cargo xtask test` installs it and names it in
//! `HMS_TEST_SCHEMATHESIS`): no 5xx, and every response as documented.

use std::path::PathBuf;

use hms_test_support::TestEnv;
use hms_test_support::fakes::persons;

fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("HMS_TEST_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let installed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.hms/tools/schemathesis/bin/st");
    assert!(
        installed.exists(),
        "schemathesis not found (neither HMS_TEST_SCHEMATHESIS nor .hms/tools/schemathesis): \
         `cargo xtask test` installs it from PyPI"
    );
    installed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_to_its_openapi_document_under_fuzzing() {
    let st = schemathesis();
    let mut env = TestEnv::new();
    // The fuzzer is one client and one person sending many requests.
    env.set("HMS_RATE_LIMIT_PER_CLIENT", "1000000");
    env.set("HMS_RATE_LIMIT_PER_USER", "1000000");
    env.start_all().await;
    let token = env.access_token(persons::KARI_NORDMANN).await;
    let api = env.gateway_url();

    let output = tokio::process::Command::new(&st)
        .arg("run")
        .arg(format!("{api}/api/openapi.json"))
        .args(["--checks", "all"])
        .args([
            "--exclude-checks",
            // Needs a second person's credentials in the fuzzer; the e2e
            // tests cover cross-company access.
            "object_level_authorization,\
             positive_data_acceptance",
            // Schema-valid is not always valid: organisation numbers and
            // fødselsnumre carry check digits, and ids must name something
            // that exists; JSON Schema cannot say so. Those refusals are
            // documented (400, 404), which status_code_conformance checks.
        ])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", "15", "--workers", "2", "--seed", "1"])
        .args(["--max-redirects", "0", "--request-timeout", "20"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--generation-database", "none", "--no-color"])
        .arg("--report-dir")
        .arg(env.dir().join("schemathesis"))
        .output()
        .await
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // No 5xx reached the gateway's own log either.
    assert!(
        !env.logs().contains("a service failed"),
        "{}",
        env.log_tails()
    );
}
