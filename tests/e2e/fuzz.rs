//! The OpenAPI document against the running gateway, fuzzed with
//! schemathesis (from PyPI; `cargo xtask test` installs it and names it in
//! `HMS_TEST_SCHEMATHESIS`): no 5xx, and every response as documented.

use std::path::PathBuf;

use hms_proto::media::v1 as media;
use hms_test_support::fakes::persons;
use hms_test_support::{TestEnv, fixtures};

use crate::common::*;

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

/// What schemathesis prints when CPython's parser fails under its threads.
const TOOL_CRASH: &str = "AST constructor recursion depth mismatch";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_to_its_openapi_document_under_fuzzing() {
    let st = schemathesis();
    let mut env = TestEnv::new();
    // The fuzzer is one client and one person sending many requests.
    env.set("HMS_RATE_LIMIT_PER_CLIENT", "1000000");
    env.set("HMS_RATE_LIMIT_PER_USER", "1000000");
    env.start_all().await;
    let api = env.gateway_url();

    // Real things for the fuzzer to find, so that it reaches the answers
    // of success and not only of ids that name nothing: Kari's approved
    // company, an order with a worker and a document, and a grant. Most
    // requests use them; the rest make up ids.
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let order = create_order(&mut clients, &company_id, &[fixtures::fodselsnummer()]).await;
    let worker_id = order.workers[0].worker_id.clone();
    let document = upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::Signature,
        fixtures::png(200, 60),
        16 * 1024,
    )
    .await
    .expect("a document");
    let grant_id = grant(
        &mut clients.owner.identity,
        &company_id,
        person(persons::PER_ANSATT),
        "workers:read",
        None,
    )
    .await;
    let config = env.dir().join("schemathesis.toml");
    let mut known = String::from("[dictionaries]\n");
    let mut parameters = String::from("[parameters]\n");
    for (name, value) in [
        ("company_id", company_id.as_str()),
        ("order_id", order.order_id.as_str()),
        ("worker_id", worker_id.as_str()),
        ("document_id", document.document_id.as_str()),
        ("grant_id", grant_id.as_str()),
    ] {
        known.push_str(&format!("{name} = {{ values = [\"{value}\"] }}\n"));
        parameters.push_str(&format!(
            "\"path.{name}\" = {{ dictionary = \"{name}\", probability = 0.8 }}\n"
        ));
    }
    std::fs::write(&config, format!("{known}\n{parameters}")).expect("write the fuzzer's config");
    // The company's owner tries everything but the back office's queues
    // and decisions, which the back office tries next.
    let kari = env.access_token(persons::KARI_NORDMANN).await;
    let siri = env.access_token(persons::SIRI_SAKSBEHANDLER).await;
    for (who, token, operations) in [
        ("owner", &kari, "--exclude-tag"),
        ("back-office", &siri, "--include-tag"),
    ] {
        let run = || async {
            tokio::process::Command::new(&st)
                .arg("--config-file")
                .arg(&config)
                .arg("run")
                .arg(format!("{api}/api/openapi.json"))
                .args([operations, "back office"])
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
                // One worker: CPython 3.11's parser trips over itself when
                // hypothesis parses lambdas from two threads at once (it did
                // twice in a row here with two workers).
                .args(["--max-examples", "25", "--workers", "1", "--seed", "1"])
                .args(["--max-redirects", "0", "--request-timeout", "20"])
                .args(["--phases", "examples,coverage,fuzzing"])
                .args(["--generation-database", "none", "--no-color"])
                .arg("--report-dir")
                .arg(env.dir().join(format!("schemathesis-{who}")))
                .output()
                .await
                .expect("schemathesis runs")
        };
        let mut output = run().await;
        // Should the tool's own parser still crash (see `--workers`), that
        // is no finding about the API: one more run decides.
        if String::from_utf8_lossy(&output.stdout).contains(TOOL_CRASH) {
            output = run().await;
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis found problems as the {who}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // No 5xx reached the gateway's own log either.
    assert!(
        !env.logs().contains("a service failed"),
        "{}",
        env.log_tails()
    );
}
