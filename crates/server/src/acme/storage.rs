//! `acme.json` as Traefik writes it: resolver name → account and
//! certificates, the keys spelled as lego spells them. A Traefik user's file
//! is read and served as it is; writes go beside the file and are renamed
//! into place with mode 0600, one at a time, each replacing only its own
//! resolver's entry, so resolvers may share one file as in Traefik.

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Traefik's `acme.json`: resolver name → account and certificates.
pub type Storage = BTreeMap<String, ResolverData>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResolverData {
    #[serde(rename = "Account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountData>,
    #[serde(rename = "Certificates", default)]
    pub certificates: Option<Vec<StoredCert>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountData {
    #[serde(rename = "Email", default)]
    pub email: String,
    #[serde(rename = "Registration", default)]
    pub registration: Option<Registration>,
    /// Base64 of the DER private key.
    #[serde(rename = "PrivateKey", default)]
    pub private_key: String,
    #[serde(rename = "KeyType", default)]
    pub key_type: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub uri: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StoredDomain {
    #[serde(default)]
    pub main: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredCert {
    pub domain: StoredDomain,
    /// Base64 of the PEM chain.
    pub certificate: String,
    /// Base64 of the PEM key.
    pub key: String,
    #[serde(rename = "Store", default)]
    pub store: String,
}

impl StoredCert {
    /// The certificate chain and key as PEM text; None when either is not
    /// base64 of UTF-8.
    pub fn pem(&self) -> Option<(String, String)> {
        let c = String::from_utf8(STANDARD.decode(&self.certificate).ok()?).ok()?;
        let k = String::from_utf8(STANDARD.decode(&self.key).ok()?).ok()?;
        Some((c, k))
    }

    /// The leaf's validity (not before, not after), seconds since the epoch.
    pub fn validity(&self) -> Option<(i64, i64)> {
        let (c, _) = self.pem()?;
        let chain = switchyard_proxy::certs::load_chain(&c).ok()?;
        switchyard_proxy::certs::validity(chain.first()?)
    }

    /// The names the certificate was ordered for, lower-case, sorted, once
    /// each (to compare with a wanted set).
    pub(super) fn names(&self) -> Vec<String> {
        let mut v = domain_set(&self.domain.main, &self.domain.sans);
        v.sort();
        v.dedup();
        v
    }
}

/// A certificate's names, lower-case, the main one first.
pub(super) fn domain_set(main: &str, sans: &[String]) -> Vec<String> {
    std::iter::once(main)
        .chain(sans.iter().map(String::as_str))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Traefik's key type names as lego spells them in `acme.json`
/// (`Account.KeyType`).
pub(super) fn lego_key_type(key_type: &str) -> &str {
    match key_type {
        "EC256" => "P256",
        "EC384" => "P384",
        "RSA2048" => "2048",
        "RSA4096" => "4096",
        "RSA8192" => "8192",
        other => other,
    }
}

/// The storage the file at `path` holds; a missing or blank file is an
/// empty one.
pub fn read_storage(path: &Path) -> Result<Storage, String> {
    match std::fs::read(path) {
        Ok(bytes) => parse_store(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Storage::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The storage in the text of an `acme.json` (the fuzz target's way in):
/// nothing but white space is an empty storage.
pub fn parse_store(bytes: &[u8]) -> Result<Storage, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Storage::new());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("not a valid acme.json: {e}"))
}

/// Writes `storage` beside `path` and renames it into place, mode 0600.
pub fn write_storage(path: &Path, storage: &Storage) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec_pretty(storage).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Resolvers may share one file (as in Traefik): each write re-reads it
/// and replaces this resolver's entry only, one writer at a time.
static STORAGE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Stores `data` as `resolver`'s entry of the file at `path`, keeping the
/// other resolvers' entries.
pub(super) fn save(path: &Path, resolver: &str, data: &ResolverData) -> Result<(), String> {
    let _guard = STORAGE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut storage = read_storage(path)?;
    storage.insert(resolver.to_string(), data.clone());
    write_storage(path, &storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_key_types_in_legos_words() {
        for (ours, lego) in [
            ("EC256", "P256"),
            ("EC384", "P384"),
            ("RSA2048", "2048"),
            ("RSA4096", "4096"),
            ("RSA8192", "8192"),
        ] {
            assert_eq!(lego_key_type(ours), lego);
        }
    }

    #[test]
    fn store_text_table() {
        /// The resolvers read, or the error's words.
        type Want = Result<&'static [&'static str], &'static str>;
        let cases: [(&str, &str, Want); 6] = [
            ("empty", "", Ok(&[])),
            ("blank", " \n\t", Ok(&[])),
            ("no resolvers", "{}", Ok(&[])),
            (
                "two resolvers",
                r#"{"le": {}, "other": {"Certificates": null}}"#,
                Ok(&["le", "other"]),
            ),
            ("not JSON", "{nope", Err("not a valid acme.json")),
            ("a list", "[]", Err("not a valid acme.json")),
        ];
        for (what, text, want) in cases {
            match (parse_store(text.as_bytes()), want) {
                (Ok(s), Ok(names)) => assert_eq!(s.keys().collect::<Vec<_>>(), names, "{what}"),
                (Err(e), Err(words)) => assert!(e.contains(words), "{what}: {e}"),
                (got, _) => panic!("{what}: {got:?}"),
            }
        }
    }

    #[test]
    fn storage_reads_traefiks_format_and_writes_it_back_privately() {
        let dir = std::env::temp_dir().join(format!("sy-acme-{}", std::process::id()));
        let path = dir.join("acme.json");
        let text = r#"{
  "le": {
    "Account": {"Email": "a@b.c", "Registration": {"body": {"status": "valid"}, "uri": "https://ca/acct/1"}, "PrivateKey": "MIIB", "KeyType": "4096"},
    "Certificates": [{"domain": {"main": "x.test", "sans": ["y.test"]}, "certificate": "Q0VSVA==", "key": "S0VZ", "Store": "default"}]
  }
}"#;
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, text).unwrap();
        let s = read_storage(&path).unwrap();
        let le = &s["le"];
        assert_eq!(le.account.as_ref().unwrap().email, "a@b.c");
        let c = &le.certificates.as_ref().unwrap()[0];
        assert_eq!(c.domain.sans, ["y.test"]);
        assert_eq!(c.pem().unwrap(), ("CERT".to_string(), "KEY".to_string()));
        write_storage(&path, &s).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["le"]["Certificates"][0]["Store"], "default");
        assert_eq!(
            back["le"]["Account"]["Registration"]["uri"],
            "https://ca/acct/1"
        );
        std::fs::write(&path, "").unwrap();
        assert!(read_storage(&path).unwrap().is_empty());
        std::fs::write(&path, "{nope").unwrap();
        assert!(read_storage(&path).unwrap_err().contains("acme.json"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn resolvers_sharing_a_file_keep_each_others_entries() {
        let dir = std::env::temp_dir().join(format!("sy-acme-shared-{}", std::process::id()));
        let path = dir.join("acme.json");
        let entry = |email: &str| ResolverData {
            account: Some(AccountData {
                email: email.into(),
                ..AccountData::default()
            }),
            certificates: Some(Vec::new()),
        };
        save(&path, "one", &entry("one@x")).unwrap();
        save(&path, "two", &entry("two@x")).unwrap();
        save(&path, "one", &entry("one-again@x")).unwrap();
        let s = read_storage(&path).unwrap();
        assert_eq!(s["one"].account.as_ref().unwrap().email, "one-again@x");
        assert_eq!(s["two"].account.as_ref().unwrap().email, "two@x");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
