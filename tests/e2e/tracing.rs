//! One trace from the back office's approval through the print handover to
//! the purge of the documents.

use hms_proto::orders::v1 as orders;
use hms_test_support::{OtlpReceiver, ReceivedSpan, TestEnv, eventually};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_trace_runs_through_the_print_handover_to_the_media_purge() {
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

    let spans = trace_spans(
        &receiver,
        &trace_id,
        &[
            ("orders", "hms.orders.v1.OrderService/ApproveOrder"),
            ("cards", "consume hms.orders.v1.order_approved"),
            ("cards", "cards.print"),
            ("media", "hms.media.v1.MediaService/GetPrintMaterial"),
            ("redaction", "consume hms.cards.v1.print_handed_over"),
            ("redaction", "redaction.redact"),
            ("media", "hms.media.v1.MediaService/PurgeOrderMedia"),
            ("media", "media.purge"),
        ],
    )
    .await;

    // The approval is consumed by cards, whose print job continues its
    // trace; the purge hangs below the redaction, which hangs below the
    // handover's consumer.
    let find = |service: &str, name: &str| find_span(&spans, service, name);
    let issue = find("cards", "consume hms.orders.v1.order_approved");
    let print = find("cards", "cards.print");
    assert_eq!(print.parent_span_id, issue.span_id);
    let read = find("media", "hms.media.v1.MediaService/GetPrintMaterial");
    assert_eq!(read.parent_span_id, print.span_id);
    let consume = find("redaction", "consume hms.cards.v1.print_handed_over");
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

    let spans = trace_spans(
        &receiver,
        &trace_id,
        &[
            ("gateway", "GET /api/v1/companies/{company_id}"),
            ("companies", "hms.companies.v1.CompanyService/GetCompany"),
            ("identity", "hms.identity.v1.IdentityService/Authorize"),
        ],
    )
    .await;
    let find = |service: &str, name: &str| find_span(&spans, service, name);
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

/// The spans of one trace, once every `(service, name)` in `expected` has
/// arrived.
async fn trace_spans(
    receiver: &OtlpReceiver,
    trace_id: &str,
    expected: &[(&str, &str)],
) -> Vec<ReceivedSpan> {
    eventually("the trace's spans", SOON, || {
        let spans: Vec<ReceivedSpan> = receiver
            .spans()
            .into_iter()
            .filter(|span| span.trace_id == trace_id)
            .collect();
        let complete = expected.iter().all(|(service, name)| {
            spans
                .iter()
                .any(|span| span.service == *service && span.name == *name)
        });
        async move { complete.then_some(spans) }
    })
    .await
}

fn find_span(spans: &[ReceivedSpan], service: &str, name: &str) -> ReceivedSpan {
    spans
        .iter()
        .find(|span| span.service == service && span.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("a span {name} from {service}"))
}
