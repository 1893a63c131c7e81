use super::{HeadScan, Refusal, Verdict};

/// Feeds `chunks` in order (a new head expected before each chunk that
/// follows a `|` marker is not needed: one connection, one head) and
/// returns the first refusal, with the bytes as handed on.
fn scan(chunks: &[&[u8]]) -> (Verdict, Vec<u8>) {
    let mut s = HeadScan::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut bytes = chunk.to_vec();
        let v = s.feed(&mut bytes);
        if v != Verdict::Pass {
            return (v, out);
        }
        out.extend_from_slice(&bytes);
    }
    (Verdict::Pass, out)
}

#[test]
fn heads() {
    use Refusal::*;
    let refuse = Verdict::Refuse;
    // (description, the head in reads, verdict)
    type Case<'a> = (&'a str, &'a [&'a [u8]], Verdict);
    let cases: &[Case] = &[
        (
            "plain GET",
            &[b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"],
            Verdict::Pass,
        ),
        ("HTTP/1.0", &[b"GET / HTTP/1.0\r\n\r\n"], Verdict::Pass),
        (
            "HTTP/2.0 in a request line",
            &[b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"],
            refuse(Version),
        ),
        ("HTTP/3.0", &[b"GET / HTTP/3.0\r\n\r\n"], refuse(Version)),
        ("HTTP/0.9", &[b"GET / HTTP/0.9\r\n\r\n"], refuse(Version)),
        (
            "version split across reads",
            &[b"GET / HTT", b"P/2.0\r\n\r\n"],
            refuse(Version),
        ),
        (
            "bare LF after the version",
            &[b"GET / HTTP/2.0\n\n"],
            refuse(Version),
        ),
        (
            "HTTP/1.10 is hyper's to refuse",
            &[b"GET / HTTP/1.10\r\n\r\n"],
            Verdict::Pass,
        ),
        (
            "lower-case version is hyper's",
            &[b"GET / http/2.0\r\n\r\n"],
            Verdict::Pass,
        ),
        (
            "fragment",
            &[b"GET /x#y HTTP/1.1\r\nHost: a\r\n\r\n"],
            refuse(Fragment),
        ),
        (
            "fragment in a long target over reads",
            &[b"GET /aaaa", b"aaaa#b", b"bb HTTP/1.1\r\n\r\n"],
            refuse(Fragment),
        ),
        (
            "# in the method is a token character",
            &[b"G#T / HTTP/1.1\r\n\r\n"],
            Verdict::Pass,
        ),
        (
            "version refused before the fragment",
            &[b"GET /#x HTTP/2.0\r\n\r\n"],
            refuse(Version),
        ),
        (
            "CL then TE",
            &[b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"],
            refuse(LengthAndChunked),
        ),
        (
            "TE then CL, odd case",
            &[b"POST / HTTP/1.1\r\ntransfer-ENCODING: chunked\r\ncontent-length: 5\r\n\r\n"],
            refuse(LengthAndChunked),
        ),
        (
            "CL and TE in separate reads",
            &[
                b"POST / HTTP/1.1\r\nContent-Len",
                b"gth: 5\r\nTransfer-",
                b"Encoding: chunked\r\n\r\n",
            ],
            refuse(LengthAndChunked),
        ),
        (
            "bare LF lines",
            &[b"POST / HTTP/1.1\nContent-Length: 5\nTransfer-Encoding: chunked\n\n"],
            refuse(LengthAndChunked),
        ),
        (
            "CL alone",
            &[b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"],
            Verdict::Pass,
        ),
        (
            "TE alone",
            &[b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
            Verdict::Pass,
        ),
        (
            "names only: values do not count",
            &[b"POST / HTTP/1.1\r\nX-A: Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"],
            Verdict::Pass,
        ),
        (
            "a longer name is another header",
            &[b"POST / HTTP/1.1\r\nContent-Length-X: 1\r\nTransfer-Encoding: chunked\r\n\r\n"],
            Verdict::Pass,
        ),
        (
            "the body is not scanned",
            &[
                b"POST / HTTP/1.1\r\nContent-Length: 44\r\n\r\n",
                b"Transfer-Encoding: chunked\r\nGET /#a HTTP/2.0\r\n",
            ],
            Verdict::Pass,
        ),
        (
            "leading empty lines skipped",
            &[b"\r\nGET / HTTP/2.0\r\n\r\n"],
            refuse(Version),
        ),
        (
            "not a request line: a body after an early answer",
            &[b"{\"a\": \"GET / HTTP/2.0\"}\r\n"],
            Verdict::Pass,
        ),
        ("no version at all", &[b"GET /#x\r\n\r\n"], Verdict::Pass),
    ];
    for (what, chunks, want) in cases {
        let (got, _) = scan(chunks);
        assert_eq!(got, *want, "{what}");
    }
}

#[test]
fn minor_versions_become_1_1() {
    // (description, reads, bytes handed on)
    type Case<'a> = (&'a str, &'a [&'a [u8]], &'a [u8]);
    let cases: &[Case] = &[
        (
            "HTTP/1.2",
            &[b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"],
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "HTTP/1.9, bare LF",
            &[b"GET / HTTP/1.9\n\n"],
            b"GET / HTTP/1.1\n\n",
        ),
        (
            "HTTP/1.0 kept",
            &[b"GET / HTTP/1.0\r\n\r\n"],
            b"GET / HTTP/1.0\r\n\r\n",
        ),
        (
            "split before the CR: left to hyper",
            &[b"GET / HTTP/1.2", b"\r\n\r\n"],
            b"GET / HTTP/1.2\r\n\r\n",
        ),
        (
            "split inside the version",
            &[b"GET / HTTP/1", b".3\r\n\r\n"],
            b"GET / HTTP/1.1\r\n\r\n",
        ),
    ];
    for (what, chunks, want) in cases {
        let (got, out) = scan(chunks);
        assert_eq!(got, Verdict::Pass, "{what}");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(want),
            "{what}"
        );
    }
}

#[test]
fn a_new_head_is_scanned_only_when_due() {
    let mut s = HeadScan::new();
    let mut first = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    assert_eq!(s.feed(&mut first), Verdict::Pass);
    assert!(s.is_off(), "the head is complete");
    let mut second = b"GET / HTTP/2.0\r\n\r\n".to_vec();
    assert_eq!(s.feed(&mut second), Verdict::Pass, "not due: not looked at");
    s.expect_head();
    assert_eq!(s.feed(&mut second), Verdict::Refuse(Refusal::Version));
}
