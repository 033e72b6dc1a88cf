use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use async_nats::jetstream;
use hms_events::{Domain, EventType, Namespace};
use hms_proto::identity::v1 as identity_pb;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use sha2::Digest;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::cable::Cable;
use crate::fakes::{self, FakeProcess};
use crate::mail::MailSink;
use crate::ports::{self, ReservedPort};
use crate::process::ServiceProcess;
pub use hms_layout::ServiceName;

/// One test's private slice of the platform.
pub struct TestEnv {
    id: String,
    admin_url: String,
    nats_url: String,
    dir: PathBuf,
    /// Each service's gRPC port, held for the test's life so that no other
    /// test takes it.
    ports: BTreeMap<ServiceName, ReservedPort>,
    /// Each service's metrics port, held likewise.
    metrics_ports: BTreeMap<ServiceName, ReservedPort>,
    settings: BTreeMap<String, String>,
    /// Every service name's secret towards identity, including callers the
    /// tests impersonate (`gateway`).
    service_secrets: BTreeMap<&'static str, String>,
    processes: BTreeMap<ServiceName, ServiceProcess>,
    fakes: Vec<FakeProcess>,
    /// The SMTP server and SMS provider notifications sends to, started
    /// with it.
    mail: Option<MailSink>,
    sms: Option<FakeProcess>,
    /// The card producer cards hands print jobs to, started with it.
    card_producer: Option<FakeProcess>,
    registers: Option<FakeProcess>,
    /// Services that reach their database through a cable the test can
    /// pull.
    cables: BTreeMap<ServiceName, Cable>,
    /// Where the gateway's REST API listens.
    gateway_http: ReservedPort,
    /// Where the web front end listens, once started.
    web_http: ReservedPort,
    web: Option<tokio::process::Child>,
}

impl TestEnv {
    /// A fresh environment; nothing runs until [`start`](Self::start).
    pub fn new() -> Self {
        let id = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let admin_url = std::env::var("HMS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let nats_url = std::env::var("HMS_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
        let dir = std::env::temp_dir().join("hms-tests").join(&id);
        std::fs::create_dir_all(&dir).expect("create the test's folder");

        let ports = ServiceName::ALL
            .iter()
            .map(|service| (*service, ports::reserve()))
            .collect();
        let metrics_ports = ServiceName::ALL
            .iter()
            .map(|service| (*service, ports::reserve()))
            .collect();

        let service_secrets: BTreeMap<&'static str, String> = ServiceName::ALL
            .into_iter()
            .filter(|service| service.is_identity_client())
            .map(|service| (service.as_str(), hms_crypto::generate_key_base64()))
            .collect();
        let service_clients = service_secrets
            .iter()
            .map(|(name, secret)| {
                let hash: String = sha2::Sha256::digest(secret.as_bytes())
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                format!("{name}:{hash}")
            })
            .collect::<Vec<_>>()
            .join(",");
        let mut settings = BTreeMap::new();
        for (key, value) in [
            ("HMS_DATABASE_CREATE", "true".to_owned()),
            // Five databases a test, and tests run side by side against one
            // PostgreSQL (100 connections by default): small pools.
            ("HMS_DATABASE_MAX_CONNECTIONS", "3".to_owned()),
            ("HMS_NATS_URL", nats_url.clone()),
            ("HMS_NATS_NAMESPACE", id.clone()),
            ("HMS_SERVICE_CLIENTS", service_clients),
            ("HMS_IDENTITY_KEY", hms_crypto::generate_key_base64()),
            ("HMS_CARDS_KEY", hms_crypto::generate_key_base64()),
            ("HMS_REDACTION_KEY", hms_crypto::generate_key_base64()),
            ("HMS_AUDIT_KEY", hms_crypto::generate_key_base64()),
            // Checkpoints a test can wait for.
            ("HMS_AUDIT_CHECKPOINT_SECS", "1".to_owned()),
            // A blocked card reaches offline verifiers within seconds.
            ("HMS_CARD_STATUS_LIST_TTL_SECS", "2".to_owned()),
            ("HMS_ALLOW_SYNTHETIC_NATIONAL_IDS", "true".to_owned()),
            ("HMS_OIDC_CLIENT_ID", fakes::CLIENT_ID.to_owned()),
            ("HMS_OIDC_CLIENT_SECRET", fakes::CLIENT_SECRET.to_owned()),
            ("HMS_AUTHZ_CACHE_MS", "500".to_owned()),
            (
                "HMS_BACK_OFFICE_NATIONAL_IDS",
                fakes::persons::SIRI_SAKSBEHANDLER.to_owned(),
            ),
            ("HMS_NATIONAL_ID_KEY", hms_crypto::generate_key_base64()),
            ("HMS_MEDIA_MASTER_KEY", hms_crypto::generate_key_base64()),
            (
                "HMS_MEDIA_STORE_URL",
                format!("file://{}", dir.join("objects").display()),
            ),
            ("HMS_LOG_FORMAT", "text".to_owned()),
            (
                "HMS_LOG_FILTER",
                "info,hms=debug,h2=warn,hyper=warn,sqlx=warn,async_nats=warn".to_owned(),
            ),
            ("HMS_EVENT_MAX_DELIVER", "4".to_owned()),
            ("HMS_EVENT_RETRY_BASE_MS", "200".to_owned()),
            ("HMS_EVENT_RETRY_MAX_MS", "1000".to_owned()),
            ("HMS_RECONCILE_INTERVAL_SECS", "1".to_owned()),
            // The reconciler stays out of the way unless a test asks for it.
            ("HMS_RECONCILE_DELAY_SECS", "3600".to_owned()),
            ("HMS_SHUTDOWN_GRACE_SECS", "5".to_owned()),
            // Failed sends are tried again within a second, not minutes.
            ("HMS_NOTIFY_RETRY_BASE_MS", "200".to_owned()),
            ("HMS_NOTIFY_RETRY_MAX_MS", "1000".to_owned()),
            // …and given up only after minutes, as in production.
            ("HMS_NOTIFY_MAX_ATTEMPTS", "200".to_owned()),
            ("HMS_NOTIFY_SEND_TIMEOUT_SECS", "5".to_owned()),
            ("HMS_PUBLIC_URL", "https://bestill.hms-kort.test".to_owned()),
            ("HMS_SMS_USERNAME", fakes::SMS_USERNAME.to_owned()),
            ("HMS_SMS_PASSWORD", fakes::SMS_PASSWORD.to_owned()),
            (
                "HMS_NOTIFY_BACKOFFICE_EMAIL",
                fakes::BACK_OFFICE_EMAIL.to_owned(),
            ),
            ("HMS_PRINT_API_KEY", fakes::PRINT_API_KEY.to_owned()),
            ("HMS_REGISTERS_TOKEN", fakes::REGISTERS_TOKEN.to_owned()),
            // A print job the producer did not take is sent again within a
            // second.
            ("HMS_PRINT_RETRY_BASE_MS", "200".to_owned()),
            ("HMS_PRINT_RETRY_MAX_MS", "1000".to_owned()),
            // Tests send from one address, faster than any person; the
            // test of the limits sets its own.
            ("HMS_RATE_LIMIT_PER_CLIENT", "1000000".to_owned()),
            ("HMS_RATE_LIMIT_PER_USER", "1000000".to_owned()),
            ("HMS_RATE_LIMIT_BURST", "1000000".to_owned()),
            ("HMS_RATE_LIMIT_LOGIN_PER_CLIENT", "1000000".to_owned()),
            ("HMS_RATE_LIMIT_LOGIN_BURST", "1000000".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ] {
            settings.insert(key.to_owned(), value);
        }
        let mut env = Self {
            id,
            admin_url,
            nats_url,
            dir,
            ports,
            metrics_ports,
            settings,
            service_secrets,
            processes: BTreeMap::new(),
            fakes: Vec::new(),
            mail: None,
            sms: None,
            card_producer: None,
            registers: None,
            cables: BTreeMap::new(),
            gateway_http: ports::reserve(),
            web_http: ports::reserve(),
            web: None,
        };
        // Every service finds every other it calls (the layout says who).
        for service in ServiceName::ALL {
            let url = env.url(service);
            env.settings.insert(service.url_setting(), url);
        }
        let http_addr = env.gateway_http_addr().to_string();
        env.settings.insert("HMS_HTTP_ADDR".to_owned(), http_addr);
        let redirect_uri = env.redirect_uri();
        env.settings
            .insert("HMS_OIDC_REDIRECT_URI".to_owned(), redirect_uri);
        env
    }

    /// Sets an `HMS_*` (or other) variable for every service started later.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.settings.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Leaves a variable unset for services started later, so they use
    /// their own default.
    pub fn unset(&mut self, key: &str) -> &mut Self {
        self.settings.remove(key);
        self
    }

    /// Makes `service` (started later) reach its database through a cable
    /// the test can pull ([`database_down`](Self::database_down)).
    pub fn database_through_cable(&mut self, service: ServiceName) -> &mut Self {
        let upstream = host_and_port(&self.admin_url);
        self.cables.insert(service, Cable::to(upstream));
        self
    }

    /// `service`'s database goes away: connections cut, new ones refused.
    pub fn database_down(&self, service: ServiceName) {
        self.cables
            .get(&service)
            .expect("call database_through_cable before starting the service")
            .pull();
    }

    /// `service`'s database is back.
    pub fn database_up(&self, service: ServiceName) {
        self.cables
            .get(&service)
            .expect("call database_through_cable before starting the service")
            .plug();
    }

    /// A setting the services get.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The folder holding this test's logs and objects.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where local object storage keeps this test's objects.
    pub fn objects_dir(&self) -> PathBuf {
        self.dir.join("objects")
    }

    pub fn addr(&self, service: ServiceName) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[&service].port()))
    }

    pub fn url(&self, service: ServiceName) -> String {
        format!("http://{}", self.addr(service))
    }

    /// `http://…/metrics` of `service`: its Prometheus metrics.
    pub fn metrics_url(&self, service: ServiceName) -> String {
        format!(
            "http://127.0.0.1:{}/metrics",
            self.metrics_ports[&service].port()
        )
    }

    pub fn database_name(&self, service: ServiceName) -> String {
        format!("hmst_{}_{}", self.id, service.as_str())
    }

    pub fn database_url(&self, service: ServiceName) -> String {
        with_database(&self.admin_url, &self.database_name(service))
    }

    /// Starts a service's binary and waits until it reports SERVING.
    /// Identity, the token issuer every call depends on, is started first
    /// if it is not running, and with it the BankID simulator and the
    /// register fake.
    pub async fn start(&mut self, service: ServiceName) {
        if service != ServiceName::Identity && !self.processes.contains_key(&ServiceName::Identity)
        {
            Box::pin(self.start(ServiceName::Identity)).await;
        }
        if service == ServiceName::Identity && self.fakes.is_empty() {
            let bankid = fakes::start_bankid(&self.dir, &self.redirect_uri()).await;
            let register = fakes::start_register(&self.dir).await;
            self.settings
                .insert("HMS_OIDC_ISSUER_URL".to_owned(), bankid.url());
            self.settings
                .insert("HMS_REGISTER_URL".to_owned(), register.url());
            self.fakes = vec![bankid, register];
        }
        if service == ServiceName::Notifications && self.mail.is_none() {
            let mail = MailSink::start(&self.dir).await;
            let sms = fakes::start_sms(&self.dir).await;
            self.settings.insert("HMS_SMTP_URL".to_owned(), mail.url());
            self.settings.insert("HMS_SMS_URL".to_owned(), sms.url());
            self.mail = Some(mail);
            self.sms = Some(sms);
        }
        if service == ServiceName::Orders && self.registers.is_none() {
            let registers = fakes::start_registers(&self.dir).await;
            for setting in ["HMS_FOLKEREGISTERET_URL", "HMS_AAREG_URL"] {
                self.settings.insert(setting.to_owned(), registers.url());
            }
            self.registers = Some(registers);
        }
        if service == ServiceName::Cards && self.card_producer.is_none() {
            let producer = fakes::start_card_producer(&self.dir).await;
            self.settings
                .insert("HMS_PRINT_URL".to_owned(), producer.url());
            self.card_producer = Some(producer);
        }
        let settings = self.service_settings(service);
        let process = ServiceProcess::start(service, &self.dir, &settings).await;
        self.processes.insert(service, process);
    }

    /// Everything a service of this environment is started with.
    fn service_settings(&self, service: ServiceName) -> BTreeMap<String, String> {
        let mut settings = self.settings.clone();
        if let Some(secret) = self.service_secrets.get(service.as_str()) {
            settings.insert("HMS_SERVICE_SECRET".to_owned(), secret.clone());
        }
        settings.insert("HMS_GRPC_ADDR".to_owned(), self.addr(service).to_string());
        let metrics_addr = SocketAddr::from(([127, 0, 0, 1], self.metrics_ports[&service].port()));
        settings.insert("HMS_METRICS_ADDR".to_owned(), metrics_addr.to_string());
        let database_url = match self.cables.get(&service) {
            Some(cable) => with_port(&self.database_url(service), cable.port()),
            None => self.database_url(service),
        };
        settings.insert("HMS_DATABASE_URL".to_owned(), database_url);
        settings
    }

    /// Runs one of a service binary's commands (`hms-audit verify …`) with
    /// this environment's settings, to its end.
    pub async fn command(&self, service: ServiceName, args: &[&str]) -> std::process::Output {
        let binary = crate::process::binary_dir().join(service.package());
        tokio::process::Command::new(&binary)
            .args(args)
            .envs(self.service_settings(service))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()))
    }

    fn gateway_http_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.gateway_http.port()))
    }

    /// The gateway's REST API, e.g. `http://127.0.0.1:40123`.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway_http_addr())
    }

    /// The web front end (`hms-web`), e.g. `http://127.0.0.1:40124`.
    pub fn web_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_http.port())
    }

    /// Every service and the web front end, the gateway sending browsers to
    /// it after a BankID login, over plain HTTP as in development.
    pub async fn start_all_with_web(&mut self) {
        self.with_web();
        self.start_all().await;
        self.start_web().await;
    }

    /// Sends browsers to the web front end after a BankID login; set before
    /// the gateway starts.
    fn with_web(&mut self) -> &mut Self {
        let after_login = format!("{}/logged-in", self.web_url());
        self.set("HMS_COOKIE_SECURE", "false")
            .set("HMS_AFTER_LOGIN_URL", &after_login)
    }

    /// Starts the web front end over this environment's gateway, and waits
    /// until it answers.
    pub async fn start_web(&mut self) {
        let path = crate::process::binary_dir().join("hms-web");
        assert!(
            path.exists(),
            "{} is missing: build the workspace first (`cargo xtask test` does)",
            path.display()
        );
        let log = std::fs::File::create(self.dir.join("hms-web.log")).expect("log file");
        let child = tokio::process::Command::new(&path)
            .env(
                "HMS_WEB_ADDR",
                format!("127.0.0.1:{}", self.web_http.port()),
            )
            .env("HMS_WEB_API_URL", self.gateway_url())
            .env("HMS_WEB_BROWSER_API_URL", self.gateway_url())
            .env("HMS_COOKIE_SECURE", "false")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", path.display()));
        self.web = Some(child);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let style = format!("{}/static/style.css", self.web_url());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if reqwest::get(&style)
                .await
                .is_ok_and(|answer| answer.status().is_success())
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.web.as_mut().map(tokio::process::Child::try_wait) {
                panic!("hms-web exited during start-up ({status})");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "hms-web did not start in time"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Where BankID sends browsers back: the gateway's login callback.
    pub fn redirect_uri(&self) -> String {
        format!("{}/api/v1/auth/callback", self.gateway_url())
    }

    /// The BankID simulator's address (running once identity is).
    pub fn bankid_url(&self) -> Option<String> {
        self.settings.get("HMS_OIDC_ISSUER_URL").cloned()
    }

    /// The SMTP server notifications sends to (running once it is).
    pub fn mail(&self) -> &MailSink {
        self.mail
            .as_ref()
            .expect("the mail server starts with notifications")
    }

    pub fn mail_mut(&mut self) -> &mut MailSink {
        self.mail
            .as_mut()
            .expect("the mail server starts with notifications")
    }

    fn sms_url(&self) -> String {
        self.sms
            .as_ref()
            .expect("the SMS fake starts with notifications")
            .url()
    }

    /// Every text message the SMS fake accepted, oldest first.
    pub async fn sms(&self) -> Vec<fakes::Sms> {
        reqwest::get(format!("{}/_fake/messages", self.sms_url()))
            .await
            .expect("ask the SMS fake")
            .json()
            .await
            .expect("the SMS fake's messages")
    }

    /// Makes the SMS fake answer its next `times` sends with `status`.
    pub async fn sms_fail(&self, status: u16, times: usize) {
        let answer = reqwest::Client::new()
            .post(format!("{}/_fake/fail", self.sms_url()))
            .json(&serde_json::json!({"status": status, "times": times}))
            .send()
            .await
            .expect("tell the SMS fake to fail");
        assert_eq!(answer.status(), 204);
    }

    /// Records a person's name in the registers' fake, so that an order
    /// naming them so matches Folkeregisteret.
    pub async fn register_person(&self, national_id: &str, name: &str) {
        self.tell_registers(
            "persons",
            serde_json::json!({"ident": national_id, "name": name}),
        )
        .await;
    }

    /// Takes `register` (`folkeregisteret` or `aareg`) down, or up again.
    pub async fn register_down(&self, register: &str, down: bool) {
        self.tell_registers(
            "down",
            serde_json::json!({"register": register, "down": down}),
        )
        .await;
    }

    async fn tell_registers(&self, what: &str, body: serde_json::Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = self
            .registers
            .as_ref()
            .expect("the registers' fake starts with orders")
            .url();
        let answer = reqwest::Client::new()
            .post(format!("{url}/_fake/{what}"))
            .json(&body)
            .send()
            .await
            .expect("tell the registers' fake");
        assert_eq!(answer.status(), 204);
    }

    fn card_producer_url(&self) -> String {
        self.card_producer
            .as_ref()
            .expect("the card producer starts with cards")
            .url()
    }

    /// Every print job the card producer took, oldest first.
    pub async fn print_jobs(&self) -> Vec<fakes::PrintJob> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::get(format!("{}/_fake/jobs", self.card_producer_url()))
            .await
            .expect("ask the card producer")
            .json()
            .await
            .expect("the card producer's jobs")
    }

    /// Makes the card producer fail: `{"status": 503, "times": 2}` or
    /// `{"status": 503, "for_ms": 30000}`.
    pub async fn producer_fail(&self, how: serde_json::Value) {
        self.tell_card_producer("fail", how).await;
    }

    /// Makes the card producer answer each job this long after taking it.
    pub async fn producer_delay(&self, ms: u64) {
        self.tell_card_producer("delay", serde_json::json!({ "ms": ms }))
            .await;
    }

    async fn tell_card_producer(&self, what: &str, body: serde_json::Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let answer = reqwest::Client::new()
            .post(format!("{}/_fake/{what}", self.card_producer_url()))
            .json(&body)
            .send()
            .await
            .expect("tell the card producer");
        assert_eq!(answer.status(), 204);
    }

    /// Starts every service.
    pub async fn start_all(&mut self) {
        for service in ServiceName::ALL {
            self.start(service).await;
        }
    }

    /// Stops a service gracefully (SIGTERM) and returns its exit code.
    pub async fn stop(&mut self, service: ServiceName) -> Option<i32> {
        let mut process = self.processes.remove(&service)?;
        process.terminate().await
    }

    /// Kills a service at once (SIGKILL), as a crash would.
    pub async fn crash(&mut self, service: ServiceName) {
        if let Some(mut process) = self.processes.remove(&service) {
            process.kill().await;
        }
    }

    /// A plain channel to a running service, as an anonymous client.
    pub async fn channel(&self, service: ServiceName) -> Channel {
        Channel::from_shared(self.url(service))
            .expect("valid url")
            .connect()
            .await
            .expect("connect to the service")
    }

    /// The secret the service `name` proves itself with in this test.
    pub fn service_secret(&self, name: &str) -> String {
        self.service_secrets
            .get(name)
            .unwrap_or_else(|| panic!("{name} has no service credentials in tests"))
            .clone()
    }

    /// A token identity issued to the service `as_service` for calling
    /// `callee`.
    pub async fn service_token(&self, as_service: &str, callee: ServiceName) -> String {
        IdentityServiceClient::new(self.channel(ServiceName::Identity).await)
            .issue_service_token(identity_pb::IssueServiceTokenRequest {
                service: as_service.to_owned(),
                secret: self.service_secret(as_service),
                audience: callee.as_str().to_owned(),
            })
            .await
            .expect("identity issues a service token")
            .into_inner()
            .access_token
    }

    /// A channel that presents the identity of the service `as_service`,
    /// with a token identity issued to it.
    pub async fn channel_as(&self, service: ServiceName, as_service: &str) -> Authed {
        let token = self.service_token(as_service, service).await;
        InterceptedService::new(self.channel(service).await, ServiceAuth(token))
    }

    /// A channel that presents `token` (a person's access token).
    pub async fn channel_with_token(&self, service: ServiceName, token: &str) -> Authed {
        InterceptedService::new(self.channel(service).await, ServiceAuth(token.to_owned()))
    }

    /// Logs `national_id` (a simulator test person) in through identity and
    /// the BankID simulator, the way a browser would, and returns the tokens.
    pub async fn login(&self, national_id: &str) -> identity_pb::CompleteLoginResponse {
        self.try_login(national_id)
            .await
            .unwrap_or_else(|status| panic!("login refused: {status:?}"))
    }

    /// Logs a test person in and returns their access token.
    pub async fn access_token(&self, national_id: &str) -> String {
        self.login(national_id)
            .await
            .tokens
            .expect("tokens after a login")
            .access_token
    }

    /// [`login`](Self::login), for tests of refused logins.
    pub async fn try_login(
        &self,
        national_id: &str,
    ) -> Result<identity_pb::CompleteLoginResponse, tonic::Status> {
        let mut identity = IdentityServiceClient::new(self.channel(ServiceName::Identity).await);
        let begin = identity
            .begin_login(identity_pb::BeginLoginRequest {})
            .await?
            .into_inner();
        let mut url = url::Url::parse(&begin.authorization_url).expect("authorization URL");
        url.query_pairs_mut().append_pair("login_hint", national_id);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        let response = http.get(url).send().await.expect("the simulator answers");
        assert!(response.status().is_redirection(), "{}", response.status());
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .expect("a redirect to the client");
        let back = url::Url::parse(location).expect("redirect URL");
        let param = |name: &str| {
            back.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        Ok(identity
            .complete_login(identity_pb::CompleteLoginRequest {
                state: param("state"),
                code: param("code"),
            })
            .await?
            .into_inner())
    }

    /// Waits until the projections of company standing in orders and media
    /// show `status` for the company.
    pub async fn wait_for_standing(&self, company_id: &str, status: &str) {
        let company = uuid::Uuid::parse_str(company_id).expect("a company id");
        for service in [ServiceName::Orders, ServiceName::Media] {
            let db = self.db(service).await;
            crate::eventually(
                &format!("{} to see the company {status}", service.as_str()),
                std::time::Duration::from_secs(15),
                || {
                    let db = db.clone();
                    async move {
                        // Orders' register checks need the organisation
                        // number too, which the registration brings.
                        let seen: Option<String> = sqlx::query_scalar(
                            "SELECT status FROM hms_company_status WHERE company_id = $1 \
                             AND (org_number IS NOT NULL OR $2)",
                        )
                        .bind(company)
                        .bind(service != ServiceName::Orders)
                        .fetch_optional(&db)
                        .await
                        .ok()
                        .flatten();
                        (seen.as_deref() == Some(status)).then_some(())
                    }
                },
            )
            .await;
        }
    }

    /// Waits until orders knows that the company accepted the data
    /// processing agreement in force, so that it may order.
    pub async fn wait_for_agreement(&self, company_id: &str) {
        let company = uuid::Uuid::parse_str(company_id).expect("a company id");
        let db = self.db(ServiceName::Orders).await;
        crate::eventually(
            "orders to see the agreement accepted",
            std::time::Duration::from_secs(15),
            || {
                let db = db.clone();
                async move {
                    let accepted: Option<bool> = sqlx::query_scalar(
                        "SELECT a.accepted_version >= c.version FROM hms_company_agreements a, \
                         hms_current_agreement c WHERE a.company_id = $1",
                    )
                    .bind(company)
                    .fetch_optional(&db)
                    .await
                    .ok()
                    .flatten();
                    (accepted == Some(true)).then_some(())
                }
            },
        )
        .await;
    }

    /// A pool on a service's database, to look at what it stored.
    pub async fn db(&self, service: ServiceName) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url(service))
            .await
            .expect("connect to the service's database")
    }

    pub fn namespace(&self) -> Namespace {
        Namespace::new(&self.id).expect("valid namespace")
    }

    pub fn subject(&self, event: EventType) -> String {
        self.namespace().subject(event)
    }

    pub fn stream_name(&self, domain: Domain) -> String {
        self.namespace().stream_name(domain)
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        let client = async_nats::connect(self.nats_url.as_str())
            .await
            .expect("connect to NATS");
        jetstream::new(client)
    }

    /// Every event of type `E` published in the test's namespace so far.
    pub async fn published<E: hms_events::Event>(&self) -> Vec<E> {
        use futures::StreamExt;
        let jetstream = self.jetstream().await;
        let Ok(stream) = jetstream.get_stream(self.stream_name(E::TYPE.domain)).await else {
            return Vec::new();
        };
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                filter_subject: self.subject(E::TYPE),
                ..Default::default()
            })
            .await
            .expect("an ordered consumer");
        let pending = consumer.cached_info().num_pending;
        let mut events = Vec::new();
        if pending == 0 {
            return events;
        }
        let mut messages = consumer.messages().await.expect("messages");
        while let Some(Ok(message)) = messages.next().await {
            events.push(E::decode(message.payload.clone()).expect("an event of its type"));
            if events.len() as u64 >= pending {
                break;
            }
        }
        events
    }

    /// The process id of a running service (for benchmarks that measure it).
    pub fn pid(&self, service: ServiceName) -> Option<u32> {
        self.processes.get(&service).and_then(ServiceProcess::pid)
    }

    /// The fakes running for this environment, the stand-ins for the
    /// outside world, each by name with its process id (for benchmarks
    /// that tell their cost from the platform's).
    pub fn fake_processes(&self) -> Vec<(String, u32)> {
        self.fakes
            .iter()
            .chain(&self.sms)
            .chain(&self.card_producer)
            .chain(&self.registers)
            .filter_map(|fake| Some((fake.binary().to_owned(), fake.pid()?)))
            .chain(
                self.mail
                    .as_ref()
                    .and_then(MailSink::pid)
                    .map(|pid| ("aiosmtpd".to_owned(), pid)),
            )
            .collect()
    }

    /// Everything every running service logged so far.
    pub fn logs(&self) -> String {
        self.processes
            .values()
            .map(ServiceProcess::log)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last lines each service logged, to explain a failure.
    pub fn log_tails(&self) -> String {
        self.processes
            .values()
            .map(|process| process.log_tail(40))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn cleanup(&mut self) {
        self.web = None;
        self.processes.clear();
        self.fakes.clear();
        self.cables.clear();
        let databases: Vec<String> = ServiceName::ALL
            .iter()
            .map(|s| self.database_name(*s))
            .collect();
        let admin_url = self.admin_url.clone();
        let nats_url = self.nats_url.clone();
        let namespace = self.namespace();
        let dir = self.dir.clone();
        // Drop runs inside the test's runtime; clean up on a thread with one
        // of its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    for database in databases {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                        ))
                        .execute(&mut admin)
                        .await;
                    }
                }
                if let Ok(client) = async_nats::connect(nats_url.as_str()).await {
                    let jetstream = jetstream::new(client);
                    for domain in Domain::ALL {
                        let _ = jetstream.delete_stream(namespace.stream_name(domain)).await;
                    }
                }
            });
            let _ = std::fs::remove_dir_all(dir);
        });
        let _ = cleanup.join();
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- logs of test environment {} ---\n{}",
                self.id,
                self.log_tails()
            );
        }
        self.cleanup();
    }
}

/// A channel that presents a token: a person's or a service's.
pub type Authed = InterceptedService<Channel, ServiceAuth>;

/// Adds a bearer token to every call.
#[derive(Clone)]
pub struct ServiceAuth(String);

impl ServiceAuth {
    /// Presents `token`; an empty one presents nothing (anonymous).
    pub fn new(token: &str) -> Self {
        Self(token.to_owned())
    }
}

impl tonic::service::Interceptor for ServiceAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if self.0.is_empty() {
            return Ok(request);
        }
        let value = format!("Bearer {}", self.0)
            .parse()
            .map_err(|_| tonic::Status::internal("token"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// The `host:port` of a PostgreSQL URL (5432 when it names none).
fn host_and_port(url: &str) -> String {
    let authority = authority(url);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// The URL pointed at `127.0.0.1:port` instead of its host and port.
fn with_port(url: &str, port: u16) -> String {
    let authority = authority(url);
    let credentials = authority
        .rsplit_once('@')
        .map(|(credentials, _)| format!("{credentials}@"))
        .unwrap_or_default();
    url.replacen(authority, &format!("{credentials}127.0.0.1:{port}"), 1)
}

/// `user:password@host:port` of `scheme://user:password@host:port/…`.
fn authority(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    &rest[..end]
}

/// The URL with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_pointed_through_a_cable() {
        assert_eq!(host_and_port("postgres://u@h:1/postgres"), "h:1");
        assert_eq!(host_and_port("postgres://u:p@h/db"), "h:5432");
        assert_eq!(
            with_port("postgres://u:p@h:5432/db?sslmode=disable", 2000),
            "postgres://u:p@127.0.0.1:2000/db?sslmode=disable"
        );
        assert_eq!(
            with_port("postgres://h/db", 2000),
            "postgres://127.0.0.1:2000/db"
        );
    }

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
