//! Rules that do not parse: where the error points and what it says.

use crate::parse;

#[test]
#[rustfmt::skip]
fn error_table() {
    // (description, rule, byte position, text the message contains)
    let cases: &[(&str, &str, usize, &str)] = &[
        // Empty rules
        ("empty (traefik)", "", 0, "empty rule"),
        ("blank (traefik)", "   ", 0, "empty rule"),
        ("only a comment", "/* x */", 0, "empty rule"),
        // Names
        ("unknown matcher", "Hots(`a`)", 0, "unsupported function: Hots"),
        ("other case (traefik)", "hOST(`a`)", 0, "unsupported function: hOST (write Host, host or HOST)"),
        ("title of the original", "PathPREFIX(`/`)", 0, "(write PathPrefix, pathprefix, PATHPREFIX or Pathprefix)"),
        ("v2 matcher", "HostHeader(`a`)", 0, "unsupported function: HostHeader"),
        ("v2 Headers", "Headers(`a`, `b`)", 0, "unsupported function: Headers"),
        ("non-ASCII name (traefik)", "Hôst(`a`)", 0, "unsupported function: Hôst"),
        ("name with a dot (traefik)", "a.Host(`a`)", 0, "unsupported function: a"),
        // Arguments
        ("no args (traefik)", "Host()", 0, "no args for matcher Host"),
        ("empty arg (traefik)", "Host(``)", 5, "empty args for matcher Host"),
        ("empty header value (traefik)", "Header(`a`, ``)", 12, "empty args for matcher Header"),
        ("empty header name (traefik)", "Header(``, `a`)", 7, "empty args for matcher Header"),
        ("empty query key (traefik)", "Query(``)", 6, "empty args for matcher Query"),
        ("empty query value (traefik)", "Query(`q`, ``)", 11, "empty args for matcher Query"),
        ("empty before count", "Host(``, `b`)", 5, "empty args"),
        ("v2 multi-host (traefik)", "Host(`a`, `b`)", 10, "parameters for Host; got 2, expected 1"),
        ("header one arg (traefik)", "Header(`a`)", 10, "parameters for Header; got 1, expected 2"),
        ("query three args (traefik)", "Query(`a`, `b`, `c`)", 16, "got 3, expected 1 or 2"),
        ("clientip two (traefik)", "ClientIP(`127.0.0.1`, `10.0.0.0/8`)", 22, "got 2, expected 1"),
        ("method two (traefik)", "Method(`GET`, `POST`)", 14, "got 2, expected 1"),
        ("unquoted value", "Host(a)", 5, "expected a value in backticks or double quotes in Host(...), found 'a'"),
        ("number (traefik)", "Host(1)", 5, "found '1'"),
        ("char literal (traefik)", "Host('a')", 5, "found '\\''"),
        ("call as value", "Host(Path(`/`))", 5, "found 'Path'"),
        ("parenthesised value (traefik)", "Host((`a`))", 5, "found '('"),
        ("missing comma", "Header(`a` `b`)", 11, "expected ',' or ')' after a value of Header, found a string"),
        ("comma first", "Host(,)", 5, "found ','"),
        ("call not closed", "Host(`a`", 8, "Host( is not closed"),
        ("call not closed after comma", "Host(`a`,", 9, "Host( is not closed"),
        ("ellipsis not last", "Header(`a`..., `b`)", 15, "expected ')' after '...'"),
        // Structure
        ("dangling && (traefik)", "Host(`a`) &&", 12, "unexpected end of rule: expected a matcher"),
        ("dangling || ", "Host(`a`) ||   ", 15, "unexpected end of rule"),
        ("dangling !", "!", 1, "unexpected end of rule"),
        ("unclosed ((traefik)", "(Host(`a`)", 10, "expected ')' to close the '(' at position 0, found the end"),
        ("extra) (traefik)", "Host(`a`))", 9, "unexpected ')' without a matching '('"),
        ("trailing word", "Host(`a`) foo", 10, "unexpected 'foo': expected '&&' or '||'"),
        ("two matchers", "Host(`a`) Path(`/`)", 10, "expected '&&' or '||'"),
        ("single & (traefik)", "Host(`a`) & Path(`/`)", 10, "the AND operator is '&&'"),
        ("single |", "Host(`a`) | Path(`/`)", 10, "the OR operator is '||'"),
        ("comparison (traefik)", "Host(`a`) == Host(`b`)", 10, "unexpected '='"),
        ("operator first", "&& Host(`a`)", 0, "expected a matcher, '(' or '!', found '&&'"),
        ("minus (traefik)", "-Host(`a`)", 0, "found '-'"),
        ("bare name (traefik)", "Host", 4, "expected '(' after Host, found the end of the rule"),
        ("no parenthesis", "Host `a`", 5, "expected '(' after Host, found a string"),
        ("bare string (traefik)", "`a`", 0, "a value goes inside a matcher"),
        ("empty group", "()", 1, "found ')'"),
        // Line breaks, as Go reads them
        ("break before && (traefik)", "Host(`a`)\n&& Path(`/x`)", 10, "unexpected '&&' on a new line"),
        ("break before) (traefik)", "Host(`a`\n)", 8, "missing ',' before newline in argument list"),
        ("break after a name (traefik)", "Host\n(`a`)", 4, "expected '(' after Host, found a line break"),
        ("break inside () (traefik)", "(Host(`a`)\n)", 10, "expected ')' to close the '('"),
        ("line comment ends the rule", "Host(`a`) // c\n&& Path(`/`)", 15, "on a new line"),
        ("comment with a break", "Host(`a`) /*\n*/ && Path(`/`)", 16, "on a new line"),
        // Characters and strings
        ("comment not terminated", "Host(`a`) /* x", 10, "comment not terminated"),
        ("no-break space (traefik)", "Host(`a`)\u{a0}&& Path(`/x`)", 9, "illegal character U+00A0"),
        ("NUL", "Host(`a\0`)", 7, "illegal character NUL"),
        ("raw string not terminated", "Host(`a)", 5, "raw string literal not terminated"),
        ("string not terminated", "Host(\"a)", 5, "string literal not terminated"),
        ("line break in a string", "Host(\"a\nb\")", 5, "string literal not terminated"),
        ("unknown escape (traefik)", "Host(\"a\\qb\")", 7, "unknown escape sequence"),
        ("\\' in quotes (traefik)", "Path(\"/\\'\")", 7, "unknown escape sequence"),
        ("surrogate (traefik)", "Path(\"/\\ud800\")", 7, "escape sequence is invalid Unicode code point"),
        ("octal above 255", "Path(\"/\\400\")", 7, "octal escape value > 255"),
        ("short hex escape", "Path(\"/\\x4\")", 7, "illegal character '\"' in escape sequence"),
        // Matcher values
        ("path without / (traefik)", "Path(`css`)", 5, "path \"css\" does not start with a '/'"),
        ("prefix without / (traefik)", "PathPrefix(`css`)", 11, "does not start with a '/'"),
        ("path * (traefik)", "Path(`*`)", 5, "does not start with a '/'"),
        ("non-ASCII host (traefik)", "Host(`🦭.com`)", 5, "non-ASCII characters are not allowed"),
        ("non-ASCII hostregexp (traefik)", "HostRegexp(`🦭.com`)", 11, "non-ASCII characters are not allowed"),
        ("bad cidr", "ClientIP(`10.0.0.0/33`)", 9, "invalid IP or CIDR address \"10.0.0.0/33\""),
        ("not an ip (traefik)", "ClientIP(`1`)", 9, "invalid IP or CIDR"),
        ("space in ip (traefik)", "ClientIP(` 10.0.0.1`)", 9, "invalid IP or CIDR"),
        ("leading zero (traefik)", "ClientIP(`010.0.0.1`)", 9, "invalid IP or CIDR"),
        ("ipv6 zone", "ClientIP(`fe80::1%eth0`)", 9, "invalid IP or CIDR"),
        ("hostname as ip", "ClientIP(`example.com`)", 9, "invalid IP or CIDR"),
        ("error in the second operand", "Host(`a`) && Nope(`b`)", 13, "unsupported function: Nope"),
        ("error deep inside", "Host(`a`) && (Path(`/`) || !Path(`x`))", 33, "does not start"),
        // Regular expressions
        ("missing ] ", "PathRegexp(`[`)", 11, "missing closing ]: `[`"),
        ("missing) (traefik)", "PathRegexp(`/(css`)", 11, "compiling PathRegexp matcher: error parsing regexp"),
        ("hostregexp ((traefik)", "HostRegexp(`(example.com`)", 11, "compiling HostRegexp matcher"),
        ("headerregexp * (traefik)", "HeaderRegexp(`X`, `*`)", 18, "compiling HeaderRegexp matcher"),
        ("queryregexp ((traefik)", "QueryRegexp(`q`, `(traefik`)", 17, "compiling QueryRegexp matcher"),
        ("repeat above 1000 (traefik)", "PathRegexp(`^/a{1001}`)", 11, "invalid repeat count: `{1001}`"),
        ("flag x (traefik)", "PathRegexp(`(?x) /a`)", 11, "invalid or unsupported Perl syntax: `(?x`"),
        ("back-reference (traefik)", "PathRegexp(`(a)\\1`)", 11, "invalid escape sequence: `\\1`"),
        ("escape \\e (traefik)", "PathRegexp(`\\e`)", 11, "invalid escape sequence: `\\e`"),
        ("escape \\C", "PathRegexp(`\\C`)", 11, "invalid escape sequence"),
        ("invalid UTF-8 (traefik)", "PathRegexp(\"\\xff\")", 11, "invalid UTF-8"),
        ("nested repetition", "PathRegexp(`a**`)", 11, "invalid nested repetition operator: `**`"),
        ("nested counted repetition (traefik)", "PathRegexp(`a{2}{3}`)", 11, "invalid nested repetition operator: `{2}{3}`"),
        ("nested repeat product (traefik)", "PathRegexp(`(a{100}){100}`)", 11, "invalid repeat count: `{100}`"),
        ("nested repeat product, deeper", "PathRegexp(`((a{10}|b){10}){11}`)", 11, "invalid repeat count: `{11}`"),
        ("nested repeat product just over", "PathRegexp(`(a{2}){501}`)", 11, "invalid repeat count"),
        ("trailing backslash", "PathRegexp(`a\\`)", 11, "trailing backslash"),
        ("class range reversed", "PathRegexp(`[z-a]`)", 11, "invalid character class range: `z-a`"),
        ("bad posix class", "PathRegexp(`[[:foo:]]`)", 11, "invalid character class range: `[:foo:]`"),
        ("bad group name", "PathRegexp(`(?P<a-b>x)`)", 11, "invalid named capture"),
        ("lookahead", "PathRegexp(`(?=a)`)", 11, "invalid or unsupported Perl syntax"),
        ("dangling flag negation", "PathRegexp(`(?i-)a`)", 11, "invalid or unsupported Perl syntax"),
    ];
    let mut failed = Vec::new();
    for (what, rule, pos, needle) in cases {
        match parse(rule) {
            Ok(_) => failed.push(format!("{what}: {rule:?} should not parse")),
            Err(e) => {
                let text = e.to_string();
                if e.position != *pos || !text.contains(needle) {
                    failed.push(format!(
                        "{what}: {rule:?}: got position {} {:?}, want {pos} and {needle:?}",
                        e.position, e.message
                    ));
                }
                if !text.starts_with("error while parsing rule ")
                    || !text.ends_with(&format!(" at position {}", e.position))
                {
                    failed.push(format!("{what}: bad error text {text:?}"));
                }
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
fn error_display_names_rule_position_and_cause() {
    let e = parse("Host(`a`) &&").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error while parsing rule Host(`a`) &&: unexpected end of rule: \
         expected a matcher, '(' or '!' at position 12"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}Host(`a`){}", "(".repeat(300), ")".repeat(300));
    let e = parse(&deep).unwrap_err();
    assert!(e.message.contains("nests too deeply"), "{e}");
    let nots = format!("{}Host(`a`)", "!".repeat(100_000));
    assert!(parse(&nots).is_err());
    // Long flat chains are fine: they do not nest.
    let long = vec!["Path(`/a`)"; 5_000].join(" || ");
    assert!(parse(&long).is_ok());
    let fine = format!("{}Host(`a`){}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&fine).is_ok());
}
