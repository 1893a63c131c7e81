//! Tables for the list parameters; the expectations are what Traefik 3.7
//! answered for the same query strings.

use super::*;

#[test]
fn query_parsing() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (description, query, key, first value)
        ("plain", "search=abc", "search", "abc"),
        ("plus is a space", "search=a+b", "search", "a b"),
        ("escapes decoded", "search=a%40b", "search", "a@b"),
        ("first value wins", "page=2&page=3", "page", "2"),
        ("missing key", "page=2", "per_page", ""),
        ("key without =", "search&page=2", "search", ""),
        (
            "bad escape skips the pair",
            "search=%zz&search=ok",
            "search",
            "ok",
        ),
        (
            "semicolon skips the pair",
            "search=a;b&search=ok",
            "search",
            "ok",
        ),
        ("escaped key", "per%5Fpage=7", "per_page", "7"),
    ];
    for (desc, raw, key, want) in cases {
        assert_eq!(Query::parse(Some(raw)).get(key), *want, "{desc}");
    }
    assert_eq!(Query::parse(None).get("page"), "");
    assert_eq!(Query::parse(Some("&&page=3&")).get("page"), "3");
}

#[test]
fn unescaping() {
    let cases: &[(&str, &str, bool, Result<&str, ()>)] = &[
        ("nothing to do", "abc", false, Ok("abc")),
        ("at sign", "r%40file", false, Ok("r@file")),
        ("upper-case hex", "a%2Fb", false, Ok("a/b")),
        ("lower-case hex", "a%2fb", false, Ok("a/b")),
        ("plus kept in a path", "a+b", false, Ok("a+b")),
        ("plus in a query", "a+b", true, Ok("a b")),
        ("bad hex", "%zz", false, Err(())),
        ("cut short", "ab%4", false, Err(())),
        ("lone percent", "%", false, Err(())),
        ("not UTF-8", "%ff", false, Err(())),
        ("UTF-8 sequence", "%C3%A9", false, Ok("é")),
    ];
    for (desc, raw, query, want) in cases {
        let got = unescape(raw, *query);
        match want {
            Ok(w) => assert_eq!(got.as_deref(), Ok(*w), "{desc}"),
            Err(()) => assert!(got.is_err(), "{desc}: {got:?}"),
        }
    }
}

#[test]
fn pages() {
    let cases: &[(&str, &str, usize, Result<Page, &str>)] = &[
        (
            "defaults",
            "",
            6,
            Ok(Page {
                start: 0,
                end: 6,
                next: 1,
            }),
        ),
        (
            "first of many",
            "per_page=1",
            6,
            Ok(Page {
                start: 0,
                end: 1,
                next: 2,
            }),
        ),
        (
            "last page",
            "per_page=4&page=2",
            6,
            Ok(Page {
                start: 4,
                end: 6,
                next: 1,
            }),
        ),
        (
            "exactly full",
            "per_page=3&page=2",
            6,
            Ok(Page {
                start: 3,
                end: 6,
                next: 1,
            }),
        ),
        (
            "empty list, first page",
            "",
            0,
            Ok(Page {
                start: 0,
                end: 0,
                next: 1,
            }),
        ),
        (
            "empty list, second page",
            "page=2",
            0,
            Err("invalid request: page: 2, per_page: 100"),
        ),
        (
            "past the end",
            "page=5",
            6,
            Err("invalid request: page: 5, per_page: 100"),
        ),
        (
            "start at the end",
            "per_page=3&page=3",
            6,
            Err("invalid request: page: 3, per_page: 3"),
        ),
        (
            "not a number",
            "page=abc",
            6,
            Err("invalid request: page: 0"),
        ),
        ("zero", "per_page=0", 6, Err("invalid request: per_page: 0")),
        (
            "negative",
            "per_page=-3",
            6,
            Err("invalid request: per_page: -3"),
        ),
        (
            "per_page checked first",
            "page=x&per_page=y",
            6,
            Err("invalid request: per_page: 0"),
        ),
        (
            "a plus in a query is a space",
            "page=+1",
            6,
            Err("invalid request: page: 0"),
        ),
        (
            "an escaped plus sign is accepted",
            "page=%2B1",
            6,
            Ok(Page {
                start: 0,
                end: 6,
                next: 1,
            }),
        ),
        (
            "too large",
            "page=99999999999999999999",
            6,
            Err("invalid request: page: 9223372036854775807"),
        ),
        (
            // Traefik's integer wraps and the request fails; a 400 is kinder.
            "product overflows",
            "page=9223372036854775807&per_page=9223372036854775807",
            6,
            Err("invalid request: page: 9223372036854775807, per_page: 9223372036854775807"),
        ),
        (
            "huge page size",
            "per_page=9223372036854775807",
            6,
            Ok(Page {
                start: 0,
                end: 6,
                next: 1,
            }),
        ),
    ];
    for (desc, raw, total, want) in cases {
        let got = pagination(&Query::parse(Some(raw)), *total);
        assert_eq!(got, want.clone().map_err(String::from), "{desc}");
    }
}

#[test]
fn criteria() {
    let c = |q: &str| Criterion::from_query(&Query::parse(Some(q)));
    assert!(c("").is_none(), "no parameters");
    assert!(c("page=2&sortBy=name").is_none(), "no criterion among them");
    assert!(c("search=").is_none(), "empty values");

    let cases: &[(&str, &str, &str, bool)] = &[
        // (description, query, "status|rule|name|service|middlewares", kept)
        ("status, any case", "status=Enabled", "enabled|r|n|s|", true),
        ("other status", "status=disabled", "enabled|r|n|s|", false),
        (
            "search in name",
            "search=GOOD",
            "enabled|r|good@file|s|",
            true,
        ),
        (
            "search in rule",
            "search=host",
            "enabled|Host(`a`)|n|s|",
            true,
        ),
        (
            "search missing",
            "search=zzz",
            "enabled|Host(`a`)|n|s|",
            false,
        ),
        (
            "bare service, qualified filter",
            "serviceName=svc@file",
            "enabled|r|n|svc|",
            true,
        ),
        (
            "bare service, bare filter",
            "serviceName=svc",
            "enabled|r|n|svc|",
            true,
        ),
        (
            "bare service, other",
            "serviceName=other@file",
            "enabled|r|n|svc|",
            false,
        ),
        (
            "qualified service, same",
            "serviceName=api@internal",
            "enabled|r|n|api@internal|",
            true,
        ),
        (
            "qualified service, bare filter",
            "serviceName=api",
            "enabled|r|n|api@internal|",
            false,
        ),
        (
            "middleware present",
            "middlewareName=m@file",
            "enabled|r|n|s|a@file,m@file",
            true,
        ),
        (
            "middleware must be qualified",
            "middlewareName=m",
            "enabled|r|n|s|m@file",
            false,
        ),
        (
            "all must hold",
            "status=enabled&search=zzz",
            "enabled|r|n|s|",
            false,
        ),
    ];
    for (desc, q, item, want) in cases {
        let f: Vec<&str> = item.split('|').collect();
        let mws: Vec<&str> = f[4].split(',').filter(|m| !m.is_empty()).collect();
        let c = c(q).expect(desc);
        let got = c.with_status(f[0])
            && c.search_in(&[f[1], f[2]])
            && c.filter_service(f[3])
            && c.filter_middleware(&mws);
        assert_eq!(got, *want, "{desc}");
    }
}

type Item = (&'static str, i64);

#[test]
fn sorting() {
    let items = [("b", 2), ("a", 2), ("c", 1)];
    let by_number = |x: &Item| SortKey::Int(x.1);
    let cases: &[(&str, &str, bool, &str)] = &[
        // (description, direction, by number, order of names)
        ("by name", "", false, "abc"),
        ("by name, asc", "asc", false, "abc"),
        ("by name, desc", "desc", false, "cba"),
        ("anything but asc is descending", "up", false, "cba"),
        ("by key, ties by name", "asc", true, "cab"),
        (
            "by key, descending, ties by name descending",
            "desc",
            true,
            "bac",
        ),
    ];
    for (desc, direction, keyed, want) in cases {
        let mut v = items.to_vec();
        let key: Option<&dyn Fn(&Item) -> SortKey> = if *keyed { Some(&by_number) } else { None };
        sort(&mut v, direction, |x| x.0, key);
        let got: String = v.iter().map(|x| x.0).collect();
        assert_eq!(got, *want, "{desc}");
    }
}
