//! The one configuration error: what is wrong, where (file, line, column)
//! and in which field.

use std::fmt;

use crate::node::Location;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the offending node (or syntax error) is.
    pub location: Option<Location>,
    /// Field path: `http.routers.r1.priority`, `servers[0].url`.
    pub path: Vec<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            location: None,
            path: Vec::new(),
            message: message.into(),
        }
    }

    pub fn at(location: Location, message: impl Into<String>) -> ConfigError {
        ConfigError {
            location: Some(location),
            path: Vec::new(),
            message: message.into(),
        }
    }

    /// The dotted field path.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if seg.starts_with('[') || out.is_empty() {
                out.push_str(seg);
            } else {
                out.push('.');
                out.push_str(seg);
            }
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.field())?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl serde::de::Error for ConfigError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConfigError::new(msg.to_string())
    }
}
