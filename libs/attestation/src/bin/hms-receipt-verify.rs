//! Checks an order's deletion receipt with no network: against the keys
//! saved earlier from `/api/v1/public/receipts/keys`.
//!
//! The receipt is the signed token, or the JSON that
//! `GET /api/v1/orders/{id}/receipt` answers (its `signed` field is used).
//! Exits 0 and prints what the receipt attests when it verifies, 1 when it
//! does not (changed, not signed by the platform, or by a key not in the
//! set), 2 when the input cannot be read.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hms_attestation::{DeletionReceipt, KeySet};

#[derive(Parser)]
#[command(name = "hms-receipt-verify", version, about)]
struct Args {
    /// The key set (JWKS) as published.
    #[arg(long)]
    keys: PathBuf,
    /// A file holding the receipt, or `-` for standard input.
    receipt: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (keys, receipt) = match read(&args) {
        Ok(read) => read,
        Err(reason) => {
            eprintln!("cannot check: {reason}");
            return ExitCode::from(2);
        }
    };
    let keys = match KeySet::from_json(&keys) {
        Ok(keys) => keys,
        Err(error) => {
            eprintln!("cannot check: {error}");
            return ExitCode::from(2);
        }
    };
    match keys.verify::<DeletionReceipt>(&signed_token(&receipt)) {
        Ok(receipt) => {
            println!(
                "verified: order {} of company {}: {} national identity numbers masked, \
                 {} documents deleted, {} keys destroyed, completed {} ({}); attested by {}",
                receipt.order_id,
                receipt.company_id,
                receipt.workers_masked,
                receipt.objects_deleted,
                receipt.keys_destroyed,
                receipt.completed_at.to_rfc3339(),
                receipt.cause.as_deref().unwrap_or("cause not recorded"),
                receipt.iss,
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("not verified: {error}");
            ExitCode::from(1)
        }
    }
}

fn read(args: &Args) -> Result<(Vec<u8>, String), String> {
    let keys =
        std::fs::read(&args.keys).map_err(|error| format!("{}: {error}", args.keys.display()))?;
    let mut receipt = String::new();
    if args.receipt.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut receipt)
            .map_err(|error| format!("standard input: {error}"))?;
    } else {
        receipt = std::fs::read_to_string(&args.receipt)
            .map_err(|error| format!("{}: {error}", args.receipt.display()))?;
    }
    Ok((keys, receipt))
}

/// The token itself, or the `signed` field of the API's answer.
fn signed_token(input: &str) -> String {
    serde_json::from_str::<serde_json::Value>(input)
        .ok()
        .and_then(|answer| answer.get("signed")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| input.trim().to_owned())
}
