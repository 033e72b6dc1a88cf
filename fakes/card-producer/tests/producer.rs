//! The fake over HTTP, as the cards service's client meets it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use card_producer_fake::{Job, Settings, router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

async fn start() -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let settings = Settings {
        api_key: Some("print-key".to_owned()),
        record: None,
    };
    tokio::spawn(async move { axum::serve(listener, router(settings)).await.ok() });
    format!("http://{addr}")
}

fn job(holder: &str) -> Value {
    let png = STANDARD.encode(b"\x89PNG\r\n\x1a\nrest-of-a-png");
    let jpeg = STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
    json!({
        "reference": "0193a1b2-order",
        "cards": [{
            "card_number": "1234567890",
            "holder_name": holder,
            "employer_name": "NORDMANN BYGG AS",
            "employer_org_number": "310100005",
            "card_type": "construction",
            "valid_until": "2028-12-02",
            "photo": {"content_type": "image/jpeg", "data": jpeg},
            "signature": {"content_type": "image/png", "data": png},
        }],
    })
}

struct Producer {
    base: String,
    http: reqwest::Client,
}

impl Producer {
    async fn send(&self, key: Option<&str>, api_key: &str, body: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/v1/print-jobs", self.base))
            .bearer_auth(api_key)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("send a print job")
    }

    async fn jobs(&self) -> Vec<Job> {
        self.http
            .get(format!("{}/_fake/jobs", self.base))
            .send()
            .await
            .expect("jobs")
            .json()
            .await
            .expect("jobs json")
    }

    async fn control(&self, path: &str, body: Value) {
        let answer = self
            .http
            .post(format!("{}/_fake/{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("control");
        assert_eq!(answer.status(), 204);
    }
}

#[tokio::test]
async fn a_job_is_taken_once_per_key_and_a_reused_key_is_refused() {
    let producer = Producer {
        base: start().await,
        http: reqwest::Client::new(),
    };

    let first = producer
        .send(Some("order-1"), "print-key", &job("Ola Nordmann"))
        .await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["cards"], 1);

    let again = producer
        .send(Some("order-1"), "print-key", &job("Ola Nordmann"))
        .await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);

    let reused = producer
        .send(Some("order-1"), "print-key", &job("Kari Nordmann"))
        .await;
    assert_eq!(reused.status(), 422);

    let jobs = producer.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].sent, 2);
    assert_eq!(jobs[0].cards[0].holder_name, "Ola Nordmann");
    assert_eq!(jobs[0].cards[0].photo_bytes, 7);
}

#[tokio::test]
async fn refuses_what_it_cannot_print_or_whom_it_does_not_know() {
    let producer = Producer {
        base: start().await,
        http: reqwest::Client::new(),
    };
    assert_eq!(
        producer
            .send(Some("k"), "wrong", &job("Ola"))
            .await
            .status(),
        401
    );
    assert_eq!(
        producer.send(None, "print-key", &job("Ola")).await.status(),
        400
    );
    let mut no_image = job("Ola");
    no_image["cards"][0]["photo"]["data"] = json!(STANDARD.encode(b"GIF89a"));
    assert_eq!(
        producer
            .send(Some("k"), "print-key", &no_image)
            .await
            .status(),
        400
    );
    let mut wrong_type = job("Ola");
    wrong_type["cards"][0]["card_type"] = json!("mining");
    assert_eq!(
        producer
            .send(Some("k"), "print-key", &wrong_type)
            .await
            .status(),
        400
    );
    assert!(producer.jobs().await.is_empty());
}

#[tokio::test]
async fn fails_as_told_then_takes_the_job() {
    let producer = Producer {
        base: start().await,
        http: reqwest::Client::new(),
    };
    producer
        .control("fail", json!({"status": 503, "times": 2}))
        .await;
    for _ in 0..2 {
        assert_eq!(
            producer
                .send(Some("k"), "print-key", &job("Ola"))
                .await
                .status(),
            503
        );
    }
    assert_eq!(
        producer
            .send(Some("k"), "print-key", &job("Ola"))
            .await
            .status(),
        202
    );

    producer
        .control("fail", json!({"status": 503, "for_ms": 300}))
        .await;
    assert_eq!(
        producer
            .send(Some("l"), "print-key", &job("Kari"))
            .await
            .status(),
        503
    );
    assert_eq!(
        producer
            .send(Some("l"), "print-key", &job("Kari"))
            .await
            .status(),
        503
    );
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(
        producer
            .send(Some("l"), "print-key", &job("Kari"))
            .await
            .status(),
        202
    );
    let jobs = producer.jobs().await;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|job| job.sent == 1));
}
