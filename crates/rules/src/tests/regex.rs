//! Go regular expressions on Rust's engine: each pattern means what it
//! means in Go.

use crate::goregex::compile;

#[test]
fn go_regexp_table() {
    let thousand = "a".repeat(1000);
    // (description, Go pattern, text, matches)
    let cases = [
        ("plain", "abc", "xabcx", true),
        ("anchors", "^abc$", "abc", true),
        ("$ is end of text", "^a$", "a\n", false),
        ("(?m) $ is end of line", "(?m)^a$", "a\nb", true),
        ("\\d ascii", "^\\d+$", "123", true),
        ("\\d not arabic digits", "^\\d+$", "١٢", false),
        ("\\D", "^\\D$", "١", true),
        ("\\w ascii", "^\\w+$", "a_1", true),
        ("\\w not é", "^\\w+$", "é", false),
        ("\\W is é", "^\\W$", "é", true),
        ("\\s set", "^\\s+$", " \t\n\r\u{c}", true),
        ("\\s not \\v", "^\\s$", "\u{b}", false),
        ("\\s not nbsp", "^\\s$", "\u{a0}", false),
        ("\\S", "^\\S$", "\u{b}", true),
        ("\\b ascii", "\\bé", "é", false),
        ("\\b word", "\\bab\\b", "x ab y", true),
        ("\\B", "a\\Bb", "ab", true),
        ("class with \\d", "^[\\d_]+$", "1_2", true),
        ("class with \\D", "^[\\D]$", "١", true),
        ("negated class with \\d", "^[^\\d]$", "a", true),
        ("negated class with \\D", "^[^\\D]$", "5", true),
        ("class with \\s", "^[\\s]$", "\u{b}", false),
        ("brace literal", "^{x}$", "{x}", true),
        ("v2 style", "^/{path:[a-z]+}$", "/{path:ab}", true),
        ("brace comma", "^a{,2}$", "a{,2}", true),
        ("brace leading zero", "^a{01}$", "a{01}", true),
        ("repeat", "^a{2}$", "aa", true),
        ("repeat range", "^a{1,2}$", "aaa", false),
        ("repeat open", "^a{2,}$", "aaaa", true),
        ("lazy repeat", "^a{1,3}?$", "aa", true),
        (
            "nested repeats within 1000",
            "^(a{2}){500}$",
            thousand.as_str(),
            true,
        ),
        ("open repeat of a repeat", "^(a{2}){1,}$", "aaaa", true),
        ("star of a repeat", "^(a{1000})*$", "", true),
        ("closing brace alone", "^a}$", "a}", true),
        ("\\Q..\\E", "^\\Q*.+\\E$", "*.+", true),
        ("\\Q to the end", "^\\Qa.b", "a.b", true),
        ("\\Q literal", "^\\Qa.b", "axb", false),
        ("octal", "^\\101\\0$", "A\0", true),
        ("hex", "^\\x41\\x{42}$", "AB", true),
        (
            "C escapes",
            "^\\t\\n\\r\\f\\v\\a$",
            "\t\n\r\u{c}\u{b}\u{7}",
            true,
        ),
        (
            "escaped punctuation",
            "^\\!\\-\\_\\#\\&\\~$",
            "!-_#&~",
            true,
        ),
        ("class [[]", "^[[]$", "[", true),
        ("class ]a", "^[]a]+$", "]a", true),
        ("class &&", "^[a&&b]+$", "&ab", true),
        ("class --", "^[--/]$", ".", true),
        ("class ~~", "^[a~~b]+$", "~", true),
        ("class range to -", "^[+--]$", ",", true),
        ("class trailing -", "^[a-]$", "-", true),
        ("posix class", "^[[:alpha:]]+$", "ab", true),
        ("negated posix class", "^[[:^alpha:]]$", "1", true),
        ("posix word", "^[[:word:]]+$", "a_1", true),
        ("unicode class", "^\\pL+$", "éa", true),
        ("unicode class braces", "^\\p{Greek}$", "α", true),
        ("negated unicode class", "^\\P{Greek}$", "a", true),
        ("caret negation", "^\\p{^Greek}$", "α", false),
        ("unicode in class", "^[\\p{Greek}a]+$", "αa", true),
        ("named group", "^(?P<n>a)$", "a", true),
        ("named group angle", "^(?<n>a)$", "a", true),
        ("named group digit", "^(?P<1a>a)$", "a", true),
        ("case flag", "(?i)^ABC$", "abc", true),
        ("flag group", "^(?i:a)B$", "AB", true),
        ("flag negation", "(?i)^a(?-i:b)$", "Ab", true),
        ("flag negation no match", "(?i)^a(?-i:b)$", "AB", false),
        ("empty flags", "^(?)a$", "a", true),
        ("non-capturing group", "^(?:ab)+$", "abab", true),
        ("dot not newline", "^.$", "\n", false),
        ("(?s) dot newline", "(?s)^.$", "\n", true),
        ("ungreedy flag", "(?U)^a+$", "aaa", true),
        ("\\A \\z", "\\Aab\\z", "ab", true),
        ("non-ASCII literal", "^é+$", "éé", true),
        ("space literal", "^a b$", "a b", true),
        ("hash literal", "^a#b$", "a#b", true),
        ("alternation", "^(a|b)$", "b", true),
        ("empty alternative", "^(|a)$", "", true),
    ];
    let mut failed = Vec::new();
    for (what, pattern, text, want) in cases {
        match compile(pattern.as_bytes()) {
            Ok(re) if re.is_match(text) == want => {}
            Ok(re) => failed.push(format!(
                "{what}: {pattern:?} ({re}) on {text:?}: want {want}"
            )),
            Err(e) => failed.push(format!("{what}: {pattern:?}: {e}")),
        }
    }
    let n = cases.len();
    assert!(
        failed.is_empty(),
        "{} of {n} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
