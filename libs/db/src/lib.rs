//! PostgreSQL plumbing every service shares: configuration, a pool that waits
//! for the database at start-up, creating the database in development, and
//! running the service's migrations together with those of the libraries it
//! uses (outbox, projections), background work kept in a table ([`work`]),
//! and waking its workers when new work commits ([`wake`]).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::migrate::{Migration, MigrationSource, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub use sqlx;

pub mod wake;
pub mod work;

/// A connection idle this long is checked before it is handed out (after
/// a database restart, say).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// `HMS_DATABASE_URL`, `HMS_DATABASE_MAX_CONNECTIONS`,
/// `HMS_DATABASE_CONNECT_TIMEOUT_SECS`, `HMS_DATABASE_ACQUIRE_TIMEOUT_SECS`.
#[derive(Debug, Clone, Deserialize)]
pub struct DbConfig {
    /// `postgres://user:password@host:port/database`; a secret, never logged.
    pub database_url: SecretString,
    #[serde(default = "default_max_connections")]
    pub database_max_connections: u32,
    /// How long start-up waits for the database to accept connections.
    #[serde(
        rename = "database_connect_timeout_secs",
        default = "default_connect_timeout",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub connect_timeout: Duration,
    /// How long a call waits for a connection (all busy, or the database
    /// unreachable) before it is answered `UNAVAILABLE`.
    #[serde(
        rename = "database_acquire_timeout_secs",
        default = "default_acquire_timeout",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub acquire_timeout: Duration,
}

fn default_acquire_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_max_connections() -> u32 {
    10
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL itself is never part of the message: it may hold a password.
    #[error("HMS_DATABASE_URL is not a valid PostgreSQL URL")]
    InvalidUrl,
    #[error("could not reach the database within {0:?}: {1}")]
    Unreachable(Duration, sqlx::Error),
    #[error("two migrations share version {0}")]
    DuplicateMigration(i64),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl DbConfig {
    pub fn connect_options(&self) -> Result<PgConnectOptions, DbError> {
        self.database_url
            .expose_secret()
            .parse::<PgConnectOptions>()
            .map_err(|_| DbError::InvalidUrl)
    }

    /// A pool, once the database accepts connections (retrying until the
    /// configured timeout, so a service may start before its database).
    pub async fn connect(&self) -> Result<PgPool, DbError> {
        let options = self.connect_options()?;
        self.retry("waiting for the database", || {
            PgPoolOptions::new()
                .max_connections(self.database_max_connections)
                .acquire_timeout(self.acquire_timeout.max(Duration::from_secs(1)))
                // A round trip before every statement cost the database as
                // much scheduling as many of the statements themselves; a
                // connection in use moments ago is alive, and one that died
                // since fails its statement, which the caller retries.
                .test_before_acquire(false)
                .before_acquire(|connection, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_AFTER_IDLE {
                            connection.ping().await?;
                        }
                        Ok(true)
                    })
                })
                // A connection comes back after its transaction committed:
                // the moment to wake the workers of what it wrote.
                .after_release(|_, _| {
                    Box::pin(async {
                        wake::connection_released();
                        Ok(true)
                    })
                })
                .connect_with(options.clone())
        })
        .await
    }

    /// Retries `attempt` until it succeeds or the connect timeout passes.
    async fn retry<T, F, Fut>(&self, waiting: &str, mut attempt: F) -> Result<T, DbError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        let timeout = self.connect_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) if Instant::now() >= deadline => {
                    return Err(DbError::Unreachable(timeout, error));
                }
                Err(error) => {
                    tracing::info!(%error, "{waiting}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Creates the configured database if it does not exist, connecting to
    /// the server's `postgres` database to do so. For development and tests;
    /// production databases are provisioned by the platform.
    pub async fn create_database_if_missing(&self) -> Result<(), DbError> {
        let options = self.connect_options()?;
        let Some(name) = options.get_database().map(str::to_owned) else {
            return Ok(());
        };
        let admin_options = options.database("postgres");
        let mut admin = self
            .retry("waiting for the database server", || {
                admin_options.connect()
            })
            .await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            match sqlx::query(&format!("CREATE DATABASE {quoted}"))
                .execute(&mut admin)
                .await
            {
                Ok(_) => tracing::info!(database = %name, "created database"),
                // Another process created it between our check and now.
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
                Err(error) => return Err(error.into()),
            }
        }
        admin.close().await?;
        Ok(())
    }
}

/// Runs the migrations of several sets (a library's and the service's) as
/// one ordered set. Libraries number their migrations below 1000; services
/// use timestamps (`20261123000000_…`), so library tables come first.
pub async fn migrate(pool: &PgPool, sets: &[&Migrator]) -> Result<(), DbError> {
    let mut migrations: Vec<Migration> = sets.iter().flat_map(|set| set.iter().cloned()).collect();
    migrations.sort_by_key(|migration| migration.version);
    if let Some(pair) = migrations
        .windows(2)
        .find(|pair| pair[0].version == pair[1].version)
    {
        return Err(DbError::DuplicateMigration(pair[0].version));
    }
    let migrator = Migrator::new(Combined(migrations)).await?;
    migrator.run(pool).await?;
    Ok(())
}

#[derive(Debug)]
struct Combined(Vec<Migration>);

impl<'s> MigrationSource<'s> for Combined {
    fn resolve(
        self,
    ) -> futures::future::BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}

/// Whether an error means the database could not serve the call now (down,
/// unreachable, restarting, out of connections, or a conflict with a
/// concurrent transaction), so that the same call may succeed if tried
/// again: the caller is told `UNAVAILABLE`, not that something is broken.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources (too
            // many connections, disk full); 57P: shutting down, restarting,
            // not accepting connections; 57014: cancelled (a statement
            // timeout on a busy server); 55P03: lock not available; 25006:
            // read-only (a standby, during a failover); 40001/40P01:
            // serialization failure and deadlock, which a retry resolves.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || ["57014", "55P03", "25006", "40001", "40P01"].contains(&code.as_ref())
        }),
        _ => false,
    }
}

/// Whether an error is PostgreSQL refusing a duplicate key.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code() == Some(Cow::Borrowed("23505")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_bug_is_not() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(is_unavailable(&sqlx::Error::Io(refused)));
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolClosed));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(!is_unavailable(&sqlx::Error::ColumnNotFound("x".into())));
        assert!(!is_unavailable(&sqlx::Error::Protocol(
            "bad message".into()
        )));
    }
}
