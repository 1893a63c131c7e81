//! The library's one error type.

/// Why the gateway could not start, or why a configuration could not be
/// handed to it. Its text names the cause and where it was found (file,
/// line and field for a configuration; the entrypoint for an address that
/// cannot be bound).
pub struct Error {
    inner: anyhow::Error,
}

impl Error {
    pub(crate) fn msg(text: impl std::fmt::Display) -> Error {
        Error {
            inner: anyhow::anyhow!("{text}"),
        }
    }

    /// Wraps an error of the start-up code (kept out of the public API:
    /// `anyhow` is not part of the library's surface).
    pub(crate) fn wrap(inner: anyhow::Error) -> Error {
        Error { inner }
    }

    /// The gateway stopped: no configuration can be applied any more.
    pub(crate) fn stopped() -> Error {
        Error::msg("the gateway has stopped: it applies no configuration any more")
    }
}

impl From<switchyard_config::ConfigError> for Error {
    fn from(e: switchyard_config::ConfigError) -> Error {
        Error {
            inner: anyhow::Error::new(e),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The whole chain: "binding entrypoint web: address in use".
        write!(f, "{:#}", self.inner)
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.inner)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}
