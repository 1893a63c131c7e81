//! Just enough DNS to see whether a TXT record has propagated: one query
//! over UDP to a recursive resolver, and the TXT values of its answer.
//! Used by the DNS-01 propagation check before asking the CA to validate.

use std::net::SocketAddr;
use std::time::Duration;

const TXT: u16 = 16;
const CLASS_IN: u16 = 1;

/// A standard query (recursion desired) for the TXT records of `name`.
fn txt_query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // 1 question
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{name:?} is not a DNS name"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TXT.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

/// The TXT values in the answer to query `id` (each record's strings
/// joined); empty for a name that does not exist.
fn txt_answers(packet: &[u8], id: u16) -> Result<Vec<String>, String> {
    let short = || "truncated DNS answer".to_string();
    let u16_at = |i: usize| -> Result<u16, String> {
        Ok(u16::from_be_bytes([
            *packet.get(i).ok_or_else(short)?,
            *packet.get(i + 1).ok_or_else(short)?,
        ]))
    };
    if u16_at(0)? != id {
        return Err("DNS answer to another query".into());
    }
    let flags = u16_at(2)?;
    if flags & 0x8000 == 0 {
        return Err("not a DNS answer".into());
    }
    match flags & 0x000f {
        0 => {}
        3 => return Ok(Vec::new()), // NXDOMAIN
        rcode => return Err(format!("DNS error (rcode {rcode})")),
    }
    let (questions, answers) = (u16_at(4)?, u16_at(6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at).ok_or_else(short)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        at = skip_name(packet, at).ok_or_else(short)?;
        let kind = u16_at(at)?;
        let len = usize::from(u16_at(at + 8)?);
        let start = at + 10;
        let data = packet.get(start..start + len).ok_or_else(short)?;
        at = start + len;
        if kind != TXT {
            continue; // a CNAME on the way, say
        }
        let mut value = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let n = usize::from(data[i]);
            value.extend_from_slice(data.get(i + 1..i + 1 + n).ok_or_else(short)?);
            i += 1 + n;
        }
        out.push(String::from_utf8_lossy(&value).into_owned());
    }
    Ok(out)
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l if l & 0xc0 == 0 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// The TXT values `server` answers for `name`.
pub(super) async fn txt(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let id: u16 = fastrand::u16(..);
    let query = txt_query(id, name)?;
    let bind: SocketAddr = if server.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("DNS: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("DNS {server}: {e}"))?;
    socket
        .send(&query)
        .await
        .map_err(|e| format!("DNS {server}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let answer = async {
        loop {
            let n = socket
                .recv(&mut buf)
                .await
                .map_err(|e| format!("DNS {server}: {e}"))?;
            // Answers to other queries (late retries) are skipped.
            match txt_answers(&buf[..n], id) {
                Err(e) if e.contains("another query") => continue,
                other => return other,
            }
        }
    };
    tokio::time::timeout(timeout, answer)
        .await
        .map_err(|_| format!("DNS {server}: no answer within {timeout:?}"))?
}

/// The recursive resolvers of this machine (`/etc/resolv.conf`).
pub(super) fn system_resolvers() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| parse_resolv_conf(&text))
        .unwrap_or_default()
}

fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// A resolver as configured: `host:port`, `[v6]:port`, or an address
/// alone (port 53).
pub(super) fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let ip = s.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("resolver {s:?}: expected an IP address, with a port or not"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `query` with `records` (type, rdata), the owner name
    /// compressed to point at the question.
    fn answer(query: &[u8], rcode: u8, records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut p = query.to_vec();
        p[2] = 0x81;
        p[3] = 0x80 | rcode;
        p[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (kind, data) in records {
            p.extend_from_slice(&[0xc0, 12]);
            p.extend_from_slice(&kind.to_be_bytes());
            p.extend_from_slice(&CLASS_IN.to_be_bytes());
            p.extend_from_slice(&60u32.to_be_bytes());
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        }
        p
    }

    fn strings(parts: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for s in parts {
            v.push(s.len() as u8);
            v.extend_from_slice(s.as_bytes());
        }
        v
    }

    #[test]
    fn queries_and_answers() {
        let q = txt_query(0x1234, "_acme-challenge.example.com.").unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..28], b"\x0f_acme-challenge");
        assert_eq!(&q[q.len() - 5..], &[0, 0, 16, 0, 1]);
        assert!(txt_query(1, "a..b").is_err());
        assert!(txt_query(1, &format!("{}.com", "x".repeat(64))).is_err());

        let cname = vec![0xc0, 12];
        type Case = (Vec<u8>, Result<Vec<String>, &'static str>);
        let cases: Vec<Case> = vec![
            (
                answer(&q, 0, &[(TXT, strings(&["abc"]))]),
                Ok(vec!["abc".into()]),
            ),
            (
                answer(
                    &q,
                    0,
                    &[
                        (5, cname),
                        (TXT, strings(&["one", "two"])),
                        (TXT, strings(&["x"])),
                    ],
                ),
                Ok(vec!["onetwo".into(), "x".into()]),
            ),
            (answer(&q, 0, &[]), Ok(vec![])),
            (answer(&q, 3, &[]), Ok(vec![])),
            (answer(&q, 2, &[]), Err("rcode 2")),
            (q.clone(), Err("not a DNS answer")),
            (
                answer(&q, 0, &[(TXT, strings(&["abc"]))])[..40].to_vec(),
                Err("truncated"),
            ),
            (vec![0x12], Err("truncated")),
            (
                answer(&txt_query(9, "a.b").unwrap(), 0, &[]),
                Err("another query"),
            ),
        ];
        for (packet, want) in cases {
            match (txt_answers(&packet, 0x1234), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(e), Err(want)) => assert!(e.contains(want), "{e}"),
                (got, want) => panic!("{got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn resolvers() {
        let conf = "# comment\nnameserver 10.0.0.1\nsearch x\nnameserver ::1\nnameserver bogus\n";
        assert_eq!(
            parse_resolv_conf(conf),
            vec![
                "10.0.0.1:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        let cases = [
            ("1.1.1.1", Some("1.1.1.1:53")),
            ("8.8.8.8:5353", Some("8.8.8.8:5353")),
            ("[::1]:53", Some("[::1]:53")),
            ("::1", Some("[::1]:53")),
            ("[2001:db8::1]", Some("[2001:db8::1]:53")),
            ("dns.example", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                parse_resolver(s).ok(),
                want.map(|w| w.parse::<SocketAddr>().unwrap()),
                "{s}"
            );
        }
    }
}
