//! A local S3 for tests: moto's server (from PyPI), which speaks the S3 API.
//! `cargo xtask test` installs it and names it in `HMS_TEST_MOTO_SERVER`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A running moto server with one bucket. Killed when dropped.
pub struct S3Fake {
    endpoint: String,
    bucket: String,
    _server: Child,
    _port: crate::ports::ReservedPort,
}

impl S3Fake {
    /// Starts moto on a free port and creates `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let binary = moto_server();
        let reserved = crate::ports::reserve();
        let port = reserved.port();
        let server = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let fake = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_owned(),
            _server: server,
            _port: reserved,
        };
        // CreateBucket is a plain PUT; moto accepts it unsigned.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match fake.put_bucket(port).await {
                Ok(status) if status.starts_with("HTTP/1.1 200") => return fake,
                Ok(status) => panic!("moto refused to create the bucket: {status}"),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(error) => panic!("moto did not start: {error}"),
            }
        }
    }

    async fn put_bucket(&self, port: u16) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "PUT /{} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.bucket
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let text = String::from_utf8_lossy(&response);
        Ok(text.lines().next().unwrap_or_default().to_owned())
    }

    /// The settings that point the media service at this S3.
    pub fn settings(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "HMS_MEDIA_STORE_URL",
                format!("s3://{}/{prefix}", self.bucket),
            ),
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    fn client(&self) -> Arc<dyn ObjectStore> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(&self.bucket)
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .with_region("us-east-1")
                .build()
                .expect("an S3 client"),
        )
    }

    /// The keys of every object below `prefix`.
    pub async fn list(&self, prefix: &str) -> Vec<String> {
        self.client()
            .list(Some(&Path::from(prefix)))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("list the bucket")
    }

    /// The raw bytes of an object.
    pub async fn get(&self, key: &str) -> Vec<u8> {
        self.client()
            .get_opts(&Path::from(key), object_store::GetOptions::default())
            .await
            .expect("get an object")
            .bytes()
            .await
            .expect("read an object")
            .to_vec()
    }
}

fn moto_server() -> PathBuf {
    if let Ok(path) = std::env::var("HMS_TEST_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let installed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.hms/tools/moto/bin/moto_server");
    if installed.exists() {
        return installed;
    }
    panic!(
        "moto_server not found (neither HMS_TEST_MOTO_SERVER nor .hms/tools/moto): \
         `cargo xtask test` installs it from PyPI"
    );
}
