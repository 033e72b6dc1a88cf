//! The same media guarantees with objects in S3 (a local moto server).

use hms_test_support::{S3Fake, TestEnv};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_in_s3_are_sealed_and_purged() {
    let s3 = S3Fake::start("hms-media").await;
    let mut env = TestEnv::new();
    let prefix = format!("{}/objects", env.id());
    for (key, value) in s3.settings(&prefix) {
        env.set(key, &value);
    }
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;

    let order_prefix = format!("{prefix}/orders/{}", order.order_id);
    let stored = s3.list(&order_prefix).await;
    assert_eq!(stored.len(), 6, "{stored:?}");
    for key in &stored {
        let bytes = s3.get(key).await;
        assert!(bytes.len() > 28, "{key} holds a sealed object");
        for plain in [&b"GPS-SECRET-MARKER"[..], b"%PDF", b"\x89PNG", b"JFIF"] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain),
                "{key} leaks {plain:?}"
            );
        }
    }

    approve(&mut clients, &order.order_id).await;
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    assert_eq!((receipt.objects_deleted, receipt.keys_destroyed), (6, 6));
    assert!(s3.list(&order_prefix).await.is_empty());
}
