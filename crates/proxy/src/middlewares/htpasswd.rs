//! Checking a password against an htpasswd-style hash, as Traefik's
//! basicAuth does: bcrypt (`$2y$`, `$2a$`, `$2b$`, `$2x$`), SHA-1
//! (`{SHA}` + base64) and MD5-crypt (`$apr1$` as htpasswd writes it, and
//! `$1$`). Anything else is treated as MD5-crypt and fails.

use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;

/// Whether `password` matches `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    if ["$2y$", "$2a$", "$2b$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
    {
        // The bcrypt crate reads the `$2y$`/`$2a$`/`$2b$` forms; `$2x$` is
        // checked as `$2y$`, as Traefik does.
        let normalized = hash.strip_prefix("$2x$").map(|rest| format!("$2y${rest}"));
        return bcrypt::verify(password, normalized.as_deref().unwrap_or(hash)).unwrap_or(false);
    }
    if let Some(encoded) = hash.strip_prefix("{SHA}") {
        let digest = Sha1::digest(password.as_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(digest);
        return constant_time_eq(want.as_bytes(), encoded.as_bytes());
    }
    for magic in ["$apr1$", "$1$"] {
        if let Some(rest) = hash.strip_prefix(magic) {
            let salt = rest.split('$').next().unwrap_or("");
            let computed = md5_crypt(password.as_bytes(), salt.as_bytes(), magic.as_bytes());
            return constant_time_eq(computed.as_bytes(), hash.as_bytes());
        }
    }
    false
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const CRYPT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The MD5-based crypt of Poul-Henning Kamp, with `magic` `$1$` or
/// Apache's `$apr1$`: `magic salt $ hash`.
pub fn md5_crypt(password: &[u8], salt: &[u8], magic: &[u8]) -> String {
    let salt = &salt[..salt.len().min(8)];
    let alternate = {
        let mut h = Md5::new();
        h.update(password);
        h.update(salt);
        h.update(password);
        h.finalize()
    };
    let mut h = Md5::new();
    h.update(password);
    h.update(magic);
    h.update(salt);
    let mut remaining = password.len();
    while remaining > 0 {
        let n = remaining.min(16);
        h.update(&alternate[..n]);
        remaining -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            h.update([0u8]);
        } else {
            h.update(&password[..password.len().min(1)]);
        }
        bits >>= 1;
    }
    let mut digest = h.finalize();
    for round in 0..1000 {
        let mut h = Md5::new();
        if round % 2 == 1 {
            h.update(password);
        } else {
            h.update(digest);
        }
        if round % 3 != 0 {
            h.update(salt);
        }
        if round % 7 != 0 {
            h.update(password);
        }
        if round % 2 == 1 {
            h.update(digest);
        } else {
            h.update(password);
        }
        digest = h.finalize();
    }
    let mut out = String::with_capacity(magic.len() + salt.len() + 23);
    out.push_str(&String::from_utf8_lossy(magic));
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let mut push = |value: u32, chars: usize| {
        let mut v = value;
        for _ in 0..chars {
            out.push(char::from(CRYPT_ALPHABET[(v & 0x3f) as usize]));
            v >>= 6;
        }
    };
    let d = |i: usize| u32::from(digest[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push((d(a) << 16) | (d(b) << 8) | d(c), 4);
    }
    push(d(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_table() {
        let bcrypt_hash = bcrypt::hash("s3cret", 4).unwrap();
        let as_2a = bcrypt_hash.replacen("$2b$", "$2a$", 1);
        let as_2y = bcrypt_hash.replacen("$2b$", "$2y$", 1);
        let cases: Vec<(&str, &str, String, bool)> = vec![
            // Vectors made by `openssl passwd` and `openssl dgst -sha1`.
            (
                "apr1 right",
                "test",
                "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/".into(),
                true,
            ),
            (
                "apr1 wrong",
                "tset",
                "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/".into(),
                false,
            ),
            (
                "md5-crypt right",
                "secret",
                "$1$saltsalt$9xy1btjgzLYfb7hivXtC//".into(),
                true,
            ),
            (
                "md5-crypt wrong",
                "Secret",
                "$1$saltsalt$9xy1btjgzLYfb7hivXtC//".into(),
                false,
            ),
            (
                "sha1 right",
                "secret",
                "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=".into(),
                true,
            ),
            (
                "sha1 wrong",
                "secret2",
                "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=".into(),
                false,
            ),
            ("bcrypt 2b", "s3cret", bcrypt_hash.clone(), true),
            ("bcrypt 2a", "s3cret", as_2a, true),
            ("bcrypt 2y", "s3cret", as_2y, true),
            ("bcrypt wrong", "nope", bcrypt_hash, false),
            ("plain text is not a hash", "secret", "secret".into(), false),
            ("empty hash", "", "".into(), false),
        ];
        for (what, password, hash, want) in cases {
            assert_eq!(verify(password, &hash), want, "{what}");
        }
    }

    #[test]
    fn md5_crypt_matches_openssl() {
        assert_eq!(
            md5_crypt(b"test", b"H6uskkkW", b"$apr1$"),
            "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
        );
        assert_eq!(
            md5_crypt(b"secret", b"saltsalt", b"$1$"),
            "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"
        );
    }
}
