//! Checks an HMS card's QR payload with no network: against a key set and
//! a status list saved earlier from
//! `/api/v1/public/card-credentials/keys` and `…/status-list`.
//!
//! Exits 0 when the card counts, 1 when it does not (blocked, deactivated,
//! expired), 2 when it cannot be decided (forged, altered, or the saved
//! keys or list too old).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hms_card_credential::{KeySet, Standing, StatusListToken, VerifyError};

#[derive(Parser)]
#[command(name = "hms-card-verify", version, about)]
struct Args {
    /// The key set (JSON) as published.
    #[arg(long)]
    keys: PathBuf,
    /// The status list token (CWT) as published.
    #[arg(long)]
    status_list: PathBuf,
    /// The QR payload (`HMS1:…`), or `-` to read it from standard input.
    payload: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match check(&args) {
        Ok(verified) => {
            let card = &verified.credential;
            println!(
                "{}: card {} of {}, {} ({}), {} card, valid until {}",
                verified.standing.as_str(),
                card.card_number,
                card.holder_name,
                card.employer_name,
                card.employer_org_number,
                card.card_type,
                card.valid_until.format("%Y-%m-%d"),
            );
            if verified.standing == Standing::Valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(reason) => {
            eprintln!("not verified: {reason}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Read(PathBuf, std::io::Error),
    Verify(VerifyError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(path, error) => write!(f, "cannot read {}: {error}", path.display()),
            Self::Verify(error) => error.fmt(f),
        }
    }
}

fn check(args: &Args) -> Result<hms_card_credential::Verified, Failure> {
    let read = |path: &PathBuf| std::fs::read(path).map_err(|e| Failure::Read(path.clone(), e));
    let keys = KeySet::from_json(&read(&args.keys)?).map_err(Failure::Verify)?;
    let list =
        StatusListToken::verify(&read(&args.status_list)?, &keys).map_err(Failure::Verify)?;
    let payload = if args.payload == "-" {
        let mut payload = String::new();
        std::io::stdin()
            .read_to_string(&mut payload)
            .map_err(|e| Failure::Read(PathBuf::from("-"), e))?;
        payload
    } else {
        args.payload.clone()
    };
    hms_card_credential::verify(&payload, &keys, &list, chrono::Utc::now()).map_err(Failure::Verify)
}
