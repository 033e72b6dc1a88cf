use hms_config::{ConfigError, Sources};
use hms_layout::ServiceName;
use hms_runtime::CommonConfig;

/// The companies service reads only the common settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        let sources = Sources::for_service(ServiceName::Companies, &[]);
        Ok(Self {
            common: CommonConfig::load(&sources, ServiceName::Companies)?,
        })
    }
}
