//! The files of a configuration directory, and which section each holds.

use crate::load::Section;
use crate::sections::*;

/// The files of a configuration directory, one per concern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigFile {
    Server,
    Models,
    Labels,
    Analysis,
    Patterns,
    Features,
    Logging,
    Storage,
    Performance,
    RiskHead,
}

impl ConfigFile {
    /// Every file, in load order.
    pub const ALL: [ConfigFile; 10] = [
        ConfigFile::Server,
        ConfigFile::Models,
        ConfigFile::Labels,
        ConfigFile::Analysis,
        ConfigFile::Patterns,
        ConfigFile::Features,
        ConfigFile::Logging,
        ConfigFile::Storage,
        ConfigFile::Performance,
        ConfigFile::RiskHead,
    ];

    /// The file name inside the configuration directory.
    pub fn file_name(self) -> &'static str {
        match self {
            ConfigFile::Server => "server.yaml",
            ConfigFile::Models => "models.yaml",
            ConfigFile::Labels => "labels.yaml",
            ConfigFile::Analysis => "analysis.yaml",
            ConfigFile::Patterns => "patterns.yaml",
            ConfigFile::Features => "features.yaml",
            ConfigFile::Logging => "logging.yaml",
            ConfigFile::Storage => "storage.yaml",
            ConfigFile::Performance => "performance.yaml",
            ConfigFile::RiskHead => "risk_head.yaml",
        }
    }
}

macro_rules! sections {
    ($($ty:ty => $file:ident),* $(,)?) => {
        $(impl Section for $ty { const FILE: ConfigFile = ConfigFile::$file; })*
    };
}

sections! {
    ServerConfig => Server,
    ModelsConfig => Models,
    LabelsConfig => Labels,
    AnalysisConfig => Analysis,
    PatternsConfig => Patterns,
    FeaturesConfig => Features,
    LoggingConfig => Logging,
    StorageConfig => Storage,
    PerformanceConfig => Performance,
    RiskHeadConfig => RiskHead,
}
