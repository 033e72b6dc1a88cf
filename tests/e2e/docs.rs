//! The README is what operators read: every setting the code reads must be
//! in its table.

use hms_config::setting_names;

#[test]
fn every_setting_is_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let sections = [
        setting_names::<hms_grpc::ServerConfig>(),
        setting_names::<hms_db::DbConfig>(),
        setting_names::<hms_events::EventsConfig>(),
        setting_names::<hms_telemetry::TelemetryConfig>(),
        setting_names::<hms_auth::AuthConfig>(),
        setting_names::<hms_authz::AuthzConfig>(),
        setting_names::<hms_identity::IdentityConfig>(),
        setting_names::<hms_runtime::StartupConfig>(),
        setting_names::<hms_orders::OrdersConfig>(),
        setting_names::<hms_media::MediaConfig>(),
        setting_names::<hms_redaction::RedactionConfig>(),
        setting_names::<hms_notifications::NotificationsConfig>(),
        setting_names::<hms_cards::CardsConfig>(),
        setting_names::<hms_gateway::GatewayConfig>(),
        setting_names::<hms_audit::AuditConfig>(),
        setting_names::<hms_web::config::WebConfig>(),
    ];
    let settings: Vec<String> = sections.into_iter().flatten().collect();
    assert!(settings.len() > 30, "{settings:?}");
    let missing: Vec<&String> = settings
        .iter()
        .filter(|setting| !readme.contains(&format!("| `{setting}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "settings missing from the README's table: {missing:?}"
    );
}
