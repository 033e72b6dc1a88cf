//! One trace from the back office's approval to the purge of the documents.

use hms_proto::orders::v1 as orders;
use hms_test_support::{OtlpReceiver, ReceivedSpan, TestEnv, eventually};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_trace_reaches_the_redaction_consumer_and_the_media_purge() {
    let receiver = OtlpReceiver::start().await;
    let mut env = TestEnv::new();
    env.set("HMS_OTLP_ENDPOINT", &receiver.endpoint());
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;

    // The back office's call starts the trace.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let mut request = tonic::Request::new(orders::ApproveOrderRequest {
        order_id: order.order_id.clone(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .expect("ascii"),
    );
    clients
        .back_office
        .orders
        .approve_order(request)
        .await
        .expect("approve");
    receipt(&mut clients, &order.order_id, SOON).await;

    let spans = eventually("the consumer's and the purge's spans", SOON, || {
        let spans: Vec<ReceivedSpan> = receiver
            .spans()
            .into_iter()
            .filter(|span| span.trace_id == trace_id)
            .collect();
        let has = |service: &str, name: &str| {
            spans.iter().any(|s| s.service == service && s.name == name)
        };
        let complete = has("orders", "hms.orders.v1.OrderService/ApproveOrder")
            && has("redaction", "consume hms.orders.v1.order_approved")
            && has("redaction", "redaction.redact")
            && has("media", "hms.media.v1.MediaService/PurgeOrderMedia")
            && has("media", "media.purge");
        async move { complete.then_some(spans) }
    })
    .await;

    // The purge hangs below the redaction, which hangs below the consumer.
    let find = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.service == service && s.name == name)
            .cloned()
            .expect("span present")
    };
    let consume = find("redaction", "consume hms.orders.v1.order_approved");
    let redact = find("redaction", "redaction.redact");
    let purge_call = find("media", "hms.media.v1.MediaService/PurgeOrderMedia");
    let purge = find("media", "media.purge");
    assert_eq!(redact.parent_span_id, consume.span_id);
    assert_eq!(purge_call.parent_span_id, redact.span_id);
    assert_eq!(purge.parent_span_id, purge_call.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_http_request_through_the_gateway_to_the_services() {
    let receiver = OtlpReceiver::start().await;
    let mut env = TestEnv::new();
    env.set("HMS_OTLP_ENDPOINT", &receiver.endpoint());
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let token = env
        .access_token(hms_test_support::fakes::persons::KARI_NORDMANN)
        .await;

    // A frontend's request starts the trace.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/companies/{company_id}",
            env.gateway_url()
        ))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .expect("a read");
    assert!(response.status().is_success(), "{}", response.status());

    let spans = eventually(
        "the gateway's, companies' and identity's spans",
        SOON,
        || {
            let spans: Vec<ReceivedSpan> = receiver
                .spans()
                .into_iter()
                .filter(|span| span.trace_id == trace_id)
                .collect();
            let has = |service: &str, name: &str| {
                spans.iter().any(|s| s.service == service && s.name == name)
            };
            let complete = has("gateway", "GET /api/v1/companies/{company_id}")
                && has("companies", "hms.companies.v1.CompanyService/GetCompany")
                && has("identity", "hms.identity.v1.IdentityService/Authorize");
            async move { complete.then_some(spans) }
        },
    )
    .await;
    let find = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.service == service && s.name == name)
            .cloned()
            .expect("span present")
    };
    let http = find("gateway", "GET /api/v1/companies/{company_id}");
    let read = find("companies", "hms.companies.v1.CompanyService/GetCompany");
    assert_eq!(
        http.parent_span_id, "00f067aa0ba902b7",
        "continues the caller's trace"
    );
    assert_eq!(
        read.parent_span_id, http.span_id,
        "the service call hangs below the request"
    );
}
