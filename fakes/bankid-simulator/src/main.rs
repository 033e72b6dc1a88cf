//! `bankid-simulator`: an OpenID Connect provider with synthetic test persons.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bankid_simulator::{NationalIdClaim, Provider, Settings, SigningKey, persons};
use clap::{Parser, ValueEnum};
use tokio::net::TcpListener;

/// An OpenID Connect provider standing in for BankID (via ID-porten or a
/// broker) in development and tests. Test persons have synthetic national
/// ids; pass one as `login_hint` to log in without the chooser page.
#[derive(Debug, Parser)]
#[command(name = "bankid-simulator", version)]
struct Cli {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(long, env = "BANKID_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Once listening, write the bound `ip:port` here (via `<path>.partial`
    /// and a rename, so readers never see half a file).
    #[arg(long, env = "BANKID_SIM_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    /// The issuer (`iss`) and base of every endpoint URL. Default:
    /// `http://<bound address>`.
    #[arg(long, env = "BANKID_SIM_ISSUER")]
    issuer: Option<String>,
    /// The one registered client.
    #[arg(long, env = "BANKID_SIM_CLIENT_ID", default_value = bankid_simulator::settings::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// That client's secret.
    #[arg(long, env = "BANKID_SIM_CLIENT_SECRET", default_value = bankid_simulator::settings::DEFAULT_CLIENT_SECRET, hide_env_values = true)]
    client_secret: String,
    /// Allowed redirect URI, matched exactly; repeat the flag (or separate
    /// with commas in the environment variable) for more than one.
    #[arg(
        long = "redirect-uri",
        env = "BANKID_SIM_REDIRECT_URI",
        value_delimiter = ',',
        default_value = bankid_simulator::settings::DEFAULT_REDIRECT_URI
    )]
    redirect_uris: Vec<String>,
    /// The claim that carries the national id: `pid` (ID-porten), `nin`
    /// (Signicat) or `nnin_altsub` (BankID's own OIDC).
    #[arg(
        long,
        env = "BANKID_SIM_NATIONAL_ID_CLAIM",
        value_enum,
        default_value = "pid"
    )]
    national_id_claim: ClaimName,
    /// RSA private key (PEM). Loaded if the file exists; generated and
    /// written (mode 0600) if it does not. Without this flag the key is
    /// ephemeral, and tokens from an earlier run stop verifying.
    #[arg(long, env = "BANKID_SIM_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// JSON array of test persons (`national_id`, `given_name`,
    /// `family_name`, `birthdate`, optional `acr`, `description`) replacing
    /// the built-in ones.
    #[arg(long, env = "BANKID_SIM_PERSONS")]
    persons: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ClaimName {
    Pid,
    Nin,
    #[value(name = "nnin_altsub")]
    NninAltsub,
}

impl From<ClaimName> for NationalIdClaim {
    fn from(claim: ClaimName) -> Self {
        match claim {
            ClaimName::Pid => Self::Pid,
            ClaimName::Nin => Self::Nin,
            ClaimName::NninAltsub => Self::NninAltsub,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();

    let persons = match &cli.persons {
        Some(path) => persons::load(path)
            .with_context(|| format!("loading test persons from {}", path.display()))?,
        None => persons::builtin(),
    };
    // Key generation takes a moment: done before the address file appears,
    // so that a harness waiting for the file finds a provider ready to sign.
    let key = match &cli.key_file {
        Some(path) => SigningKey::load_or_create(path)
            .with_context(|| format!("loading the signing key {}", path.display()))?,
        None => SigningKey::generate().context("generating an ephemeral signing key")?,
    };

    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let settings = Settings {
        issuer: cli.issuer.unwrap_or_else(|| format!("http://{addr}")),
        client_id: cli.client_id,
        client_secret: cli.client_secret,
        redirect_uris: cli.redirect_uris,
        national_id_claim: cli.national_id_claim.into(),
        persons,
        ..Settings::with_issuer(String::new())
    };
    let provider = Arc::new(Provider::new(settings, key).context("invalid settings")?);

    if let Some(path) = &cli.addr_file {
        hms_runtime::write_addr_file(path, addr)
            .with_context(|| format!("writing the address file {}", path.display()))?;
    }
    tracing::info!(
        %addr,
        issuer = %provider.settings().issuer,
        client_id = %provider.settings().client_id,
        kid = %provider.key().kid(),
        persons = provider.settings().persons.len(),
        "bankid-simulator listening"
    );

    bankid_simulator::serve(
        listener,
        provider,
        hms_runtime::shutdown_signal().cancelled_owned(),
    )
    .await
    .context("serving HTTP")?;
    tracing::info!("bankid-simulator stopped");
    Ok(())
}
