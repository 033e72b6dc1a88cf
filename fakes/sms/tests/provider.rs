//! The fake over HTTP, as the notifications service's client meets it.

use serde_json::{Value, json};
use sms_fake::{Received, Settings, router};
use tokio::net::TcpListener;

async fn start(settings: Settings) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router(settings)).await.ok() });
    format!("http://{addr}")
}

fn message(destination: &str) -> Value {
    json!({
        "source": "HMS-kort",
        "sourceTON": "ALPHANUMERIC",
        "destination": destination,
        "userData": "HMS-kort: hei",
        "platformId": "COMMON_API",
        "platformPartnerId": "1234",
        "refId": "0193a1b2",
        "useDeliveryReport": false,
    })
}

#[tokio::test]
async fn accepts_records_and_fails_as_told() {
    let base = start(Settings {
        credentials: Some(("hms".to_owned(), "secret".to_owned())),
        record: None,
    })
    .await;
    let http = reqwest::Client::new();
    let send = |body: Value, password: &'static str| {
        http.post(format!("{base}/sms/send"))
            .basic_auth("hms", Some(password))
            .json(&body)
            .send()
    };

    let answer = send(message("+4791234567"), "secret").await.expect("send");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["resultCode"], 1005);
    assert!(body["messageId"].as_str().is_some_and(|id| !id.is_empty()));

    assert_eq!(
        send(message("+4791234567"), "wrong")
            .await
            .expect("send")
            .status(),
        401
    );
    assert_eq!(
        send(message("91234567"), "secret")
            .await
            .expect("send")
            .status(),
        400
    );

    let told = http
        .post(format!("{base}/_fake/fail"))
        .json(&json!({"status": 503, "times": 2}))
        .send()
        .await
        .expect("fail");
    assert_eq!(told.status(), 204);
    for _ in 0..2 {
        assert_eq!(
            send(message("+4791234567"), "secret")
                .await
                .expect("send")
                .status(),
            503
        );
    }
    assert_eq!(
        send(message("+4799999999"), "secret")
            .await
            .expect("send")
            .status(),
        200
    );

    let received: Vec<Received> = http
        .get(format!("{base}/_fake/messages"))
        .send()
        .await
        .expect("messages")
        .json()
        .await
        .expect("json");
    let destinations: Vec<&str> = received.iter().map(|m| m.destination.as_str()).collect();
    assert_eq!(destinations, ["+4791234567", "+4799999999"]);
    assert_eq!(received[0].ref_id, "0193a1b2");
    assert_eq!(received[0].user_data, "HMS-kort: hei");
}
