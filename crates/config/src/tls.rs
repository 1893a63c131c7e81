//! The dynamic configuration's `tls` section (certificates, options,
//! stores) and a router's `tls` settings, with Traefik's defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dynamic::CertAndKey;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TlsConfiguration {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, TlsOptions>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, Store>,
}

/// A certificate and the stores it belongs to (`default` when none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CertificateEntry {
    pub cert_file: String,
    pub key_file: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
}

impl CertificateEntry {
    pub fn pair(&self) -> CertAndKey {
        CertAndKey {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClientAuth {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_files: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_auth_type: String,
}

/// `tls.options.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TlsOptions {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub min_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub curve_preferences: Vec<String>,
    pub client_auth: ClientAuth,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sni_strict: bool,
    #[serde(rename = "alpnProtocols", skip_serializing_if = "Vec::is_empty")]
    pub alpn_protocols: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_session_tickets: bool,
    /// Deprecated by Traefik; read and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer_server_cipher_suites: Option<bool>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            min_version: String::new(),
            max_version: String::new(),
            cipher_suites: Vec::new(),
            curve_preferences: Vec::new(),
            client_auth: ClientAuth::default(),
            sni_strict: false,
            alpn_protocols: vec!["h2".into(), "http/1.1".into(), "acme-tls/1".into()],
            disable_session_tickets: false,
            prefer_server_cipher_suites: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Domain {
    pub main: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GeneratedCert {
    pub resolver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
}

/// `tls.stores.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Store {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<CertAndKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_generated_cert: Option<GeneratedCert>,
}

/// A router's (or an entrypoint's default) `tls` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouterTls {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub options: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_resolver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}
