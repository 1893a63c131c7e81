//! Reading a TLS ClientHello from the raw bytes of a connection, without
//! consuming them: the server name and ALPN protocols decide the router,
//! and the same bytes then go to the backend as they came (passthrough) or
//! to our own TLS server (termination, or the HTTP routers).

/// The first record type of a TLS connection (handshake).
const HANDSHAKE: u8 = 0x16;
/// The handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;
/// PostgreSQL's SSLRequest (length 8, code 80877103): a client that wants
/// TLS sends it first and waits for `S` before its ClientHello.
pub(crate) const POSTGRES_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// The most of a connection read to find its ClientHello.
pub(crate) const MAX_HELLO: usize = 64 * 1024;

/// What the first bytes of a connection are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peeked {
    /// More bytes are needed to decide.
    NeedMore,
    /// Not a TLS handshake.
    NotTls,
    /// A whole ClientHello.
    Hello(Hello),
    /// PostgreSQL's SSLRequest (the first 8 bytes).
    Postgres,
    /// A TLS handshake that is not a valid ClientHello.
    Malformed(&'static str),
    /// The connection ended within the ClientHello.
    Incomplete(&'static str),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hello {
    /// The server name as sent (not yet lower-cased); empty when none.
    pub server_name: String,
    pub alpn: Vec<Vec<u8>>,
}

/// Looks at the bytes read so far.
pub(crate) fn peek(buf: &[u8]) -> Peeked {
    let Some(&first) = buf.first() else {
        return Peeked::NeedMore;
    };
    let seen = buf.len().min(POSTGRES_SSL_REQUEST.len());
    if buf[..seen] == POSTGRES_SSL_REQUEST[..seen] {
        return if seen == POSTGRES_SSL_REQUEST.len() {
            Peeked::Postgres
        } else {
            Peeked::NeedMore
        };
    }
    if first != HANDSHAKE {
        return Peeked::NotTls;
    }
    // The handshake message may span several records: join their bodies.
    let mut message = Vec::new();
    let mut rest = buf;
    loop {
        if rest.len() < 5 {
            return Peeked::NeedMore;
        }
        if rest[0] != HANDSHAKE {
            return Peeked::Malformed(
                "a record other than a handshake before the ClientHello ends",
            );
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 {
            return Peeked::Malformed("an empty handshake record");
        }
        let Some(body) = rest.get(5..5 + len) else {
            return Peeked::NeedMore;
        };
        message.extend_from_slice(body);
        rest = &rest[5 + len..];
        if message.len() >= 4 {
            if message[0] != CLIENT_HELLO {
                return Peeked::Malformed("the first handshake message is not a ClientHello");
            }
            let need = 4
                + (usize::from(message[1]) << 16
                    | usize::from(message[2]) << 8
                    | usize::from(message[3]));
            if need > MAX_HELLO {
                return Peeked::Malformed("the ClientHello is too long");
            }
            if message.len() >= need {
                return match client_hello(&message[4..need]) {
                    Some(hello) => Peeked::Hello(hello),
                    None => Peeked::Malformed("the ClientHello does not parse"),
                };
            }
        }
    }
}

/// A cursor over a message; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    /// A block prefixed by its one-byte length.
    fn block8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()?;
        self.take(n).map(Reader)
    }

    /// A block prefixed by its two-byte length.
    fn block16(&mut self) -> Option<Reader<'a>> {
        let n = self.u16()?;
        self.take(n).map(Reader)
    }
}

/// The server name and ALPN protocols of a ClientHello's body.
fn client_hello(body: &[u8]) -> Option<Hello> {
    let mut r = Reader(body);
    r.take(2 + 32)?; // version, random
    r.block8()?; // session id
    r.block16()?; // cipher suites
    r.block8()?; // compression methods
    let mut hello = Hello::default();
    if r.0.is_empty() {
        return Some(hello); // no extensions
    }
    let mut extensions = r.block16()?;
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = extensions.block16()?;
        match kind {
            0 => {
                let mut names = data.block16()?;
                while !names.0.is_empty() {
                    let name_type = names.u8()?;
                    let name = names.block16()?;
                    if name_type == 0 {
                        hello.server_name = String::from_utf8_lossy(name.0).into_owned();
                    }
                }
            }
            16 => {
                let mut protocols = data.block16()?;
                while !protocols.0.is_empty() {
                    hello.alpn.push(protocols.block8()?.0.to_vec());
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record with these extensions (type, data).
    fn record(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one cipher suite
        body.extend([1, 0]); // null compression
        let mut ext = Vec::new();
        for (kind, data) in extensions {
            ext.extend(kind.to_be_bytes());
            ext.extend((data.len() as u16).to_be_bytes());
            ext.extend(data);
        }
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut msg = vec![CLIENT_HELLO, 0];
        msg.extend((body.len() as u16).to_be_bytes());
        msg.extend(body);
        let mut rec = vec![HANDSHAKE, 3, 1];
        rec.extend((msg.len() as u16).to_be_bytes());
        rec.extend(msg);
        rec
    }

    fn sni(name: &str) -> (u16, Vec<u8>) {
        let mut entry = vec![0];
        entry.extend((name.len() as u16).to_be_bytes());
        entry.extend(name.as_bytes());
        let mut data = (entry.len() as u16).to_be_bytes().to_vec();
        data.extend(entry);
        (0, data)
    }

    fn alpn(protos: &[&str]) -> (u16, Vec<u8>) {
        let mut list = Vec::new();
        for p in protos {
            list.push(p.len() as u8);
            list.extend(p.as_bytes());
        }
        let mut data = (list.len() as u16).to_be_bytes().to_vec();
        data.extend(list);
        (16, data)
    }

    #[test]
    fn peek_table() {
        let full = record(&[sni("db.test"), alpn(&["h2", "pg"])]);
        let want = Hello {
            server_name: "db.test".into(),
            alpn: vec![b"h2".to_vec(), b"pg".to_vec()],
        };
        // The same hello split over two records.
        let msg = &full[5..];
        let mut split = vec![HANDSHAKE, 3, 1, 0, 10];
        split.extend(&msg[..10]);
        split.extend([HANDSHAKE, 3, 1]);
        split.extend(((msg.len() - 10) as u16).to_be_bytes());
        split.extend(&msg[10..]);
        let cases: Vec<(&str, Vec<u8>, Peeked)> = vec![
            ("nothing yet", vec![], Peeked::NeedMore),
            ("postgres, begun", vec![0, 0, 0, 8], Peeked::NeedMore),
            ("postgres", POSTGRES_SSL_REQUEST.to_vec(), Peeked::Postgres),
            ("zeros, not postgres", vec![0, 0, 0, 9], Peeked::NotTls),
            ("plain text", b"GET / HTTP/1.1\r\n".to_vec(), Peeked::NotTls),
            (
                "server name and alpn",
                full.clone(),
                Peeked::Hello(want.clone()),
            ),
            (
                "half a record",
                full[..full.len() / 2].to_vec(),
                Peeked::NeedMore,
            ),
            ("two records", split.clone(), Peeked::Hello(want)),
            (
                "first of two records",
                split[..20].to_vec(),
                Peeked::NeedMore,
            ),
            (
                "no extensions",
                record(&[]),
                Peeked::Hello(Hello::default()),
            ),
            (
                "not a client hello",
                vec![HANDSHAKE, 3, 1, 0, 4, 2, 0, 0, 0],
                Peeked::Malformed("the first handshake message is not a ClientHello"),
            ),
            (
                "truncated body",
                vec![HANDSHAKE, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3],
                Peeked::Malformed("the ClientHello does not parse"),
            ),
        ];
        for (what, bytes, want) in cases {
            assert_eq!(peek(&bytes), want, "{what}");
        }
    }
}
