use hms_config::{ConfigError, Sources};
use hms_runtime::CommonConfig;

/// The companies service reads only the common settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        let sources = Sources::new(&[
            ("grpc_addr", "0.0.0.0:50051"),
            (
                "database_url",
                "postgres://postgres@127.0.0.1:5432/hms_companies",
            ),
        ]);
        Ok(Self {
            common: CommonConfig::load(&sources)?,
        })
    }
}
