//! Table tests: each case's expected output is what Go's text/template
//! (with sprig, as Traefik 3.7 runs it) gives for the same text and data.

use proptest::prelude::*;

use super::{Functions, Template, Value};

fn data(json: &str) -> Value {
    let v: serde_json::Value = serde_json::from_str(json).expect("test data is JSON");
    Value::from(&v)
}

fn render(text: &str, json: &str) -> Result<String, String> {
    let t =
        Template::parse_with("t", text, &Functions::file_provider()).map_err(|e| e.to_string())?;
    t.render(&data(json), &Functions::file_provider())
        .map_err(|e| e.to_string())
}

const D: &str = r#"{
  "name": "web", "port": 8080, "ratio": 1.5, "on": true, "off": false, "empty": "",
  "zero": 0, "nil": null,
  "hosts": ["a.example", "b.example", "c.example"],
  "svc": {"api": {"port": 81}, "web": {"port": 80}},
  "nested": {"a": {"b": {"c": "deep"}}}
}"#;

/// (description, template, expected output)
const OK: &[(&str, &str, &str)] = &[
    ("plain text", "hello world", "hello world"),
    ("empty", "", ""),
    ("text with lone braces", "a { b } c }} d", "a { b } c }} d"),
    ("field", "{{ .name }}", "web"),
    ("int field", "{{.port}}", "8080"),
    ("float field", "{{.ratio}}", "1.5"),
    ("bool field", "{{.on}}", "true"),
    ("missing field", "{{.missing}}", "<no value>"),
    ("null field", "{{.nil}}", "<no value>"),
    ("field of missing", "{{.missing.x}}", "<no value>"),
    ("nested field", "{{.nested.a.b.c}}", "deep"),
    ("dot of list", "{{.hosts}}", "[a.example b.example c.example]"),
    ("dot of map", "{{.svc.api}}", "map[port:81]"),
    ("string literal", r#"{{ "a\tb" }}"#, "a\tb"),
    ("raw string", "{{ `a\\tb` }}", "a\\tb"),
    ("int literal", "{{ 42 }}", "42"),
    ("negative literal", "{{ -7 }}", "-7"),
    ("hex literal", "{{ 0x1F }}", "31"),
    ("octal literal", "{{ 017 }}", "15"),
    ("underscore literal", "{{ 1_000 }}", "1000"),
    ("float literal", "{{ 2.50 }}", "2.5"),
    ("integral float literal", "{{ 3.0 }}", "3"),
    ("exp float literal", "{{ 1e6 }}", "1e+06"),
    ("small float", "{{ 0.00001 }}", "1e-05"),
    ("char literal", "{{ 'a' }}", "97"),
    ("bool literal", "{{ true }} {{ false }}", "true false"),
    ("trim left", "a  \n {{- 1 }}", "a1"),
    ("trim right", "{{ 1 -}} \n\t b", "1b"),
    ("trim both", "x {{- 1 -}} y", "x1y"),
    ("negative number not trim", "x {{-1}} y", "x -1 y"),
    ("comment", "a{{/* hidden */}}b", "ab"),
    ("comment trimmed", "a {{- /* hidden */ -}} b", "ab"),
    ("multi-line comment", "a{{/* x\ny */}}b", "ab"),
    ("pipeline", r#"{{ "abc" | upper }}"#, "ABC"),
    ("pipeline chain", r#"{{ "  abc " | trim | upper | printf "<%s>" }}"#, "<ABC>"),
    ("paren call", r#"{{ printf "%s-%s" (upper "a") (lower "B") }}"#, "A-b"),
    ("paren field", r#"{{ (.svc).api.port }}"#, "81"),
    ("variable", "{{ $x := .name }}{{ $x }}", "web"),
    ("variable assign", "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
    ("dollar", "{{ with .svc }}{{ $.name }}{{ end }}", "web"),
    ("variable field", "{{ $s := .svc }}{{ $s.web.port }}", "80"),
    ("if true", "{{ if .on }}yes{{ end }}", "yes"),
    ("if false", "{{ if .off }}yes{{ else }}no{{ end }}", "no"),
    ("if empty string", r#"{{ if .empty }}yes{{ else }}no{{ end }}"#, "no"),
    ("if zero", "{{ if .zero }}yes{{ else }}no{{ end }}", "no"),
    ("if missing", "{{ if .missing }}yes{{ else }}no{{ end }}", "no"),
    ("if list", "{{ if .hosts }}yes{{ end }}", "yes"),
    ("else if", "{{ if .off }}a{{ else if .on }}b{{ else }}c{{ end }}", "b"),
    ("else if chain end", "{{ if .off }}a{{ else if .zero }}b{{ else }}c{{ end }}", "c"),
    ("if with decl", "{{ if $p := .port }}{{ $p }}{{ end }}", "8080"),
    ("with", "{{ with .svc.api }}{{ .port }}{{ end }}", "81"),
    ("with else", "{{ with .missing }}x{{ else }}none{{ end }}", "none"),
    ("else with", "{{ with .missing }}x{{ else with .name }}{{ . }}{{ end }}", "web"),
    ("range list", "{{ range .hosts }}[{{ . }}]{{ end }}", "[a.example][b.example][c.example]"),
    ("range index", "{{ range $i, $h := .hosts }}{{ $i }}={{ $h }} {{ end }}", "0=a.example 1=b.example 2=c.example "),
    ("range one var", "{{ range $h := .hosts }}{{ $h }};{{ end }}", "a.example;b.example;c.example;"),
    ("range map sorted", "{{ range $k, $v := .svc }}{{ $k }}:{{ $v.port }} {{ end }}", "api:81 web:80 "),
    ("range map values", "{{ range .svc }}{{ .port }} {{ end }}", "81 80 "),
    ("range else", "{{ range .missing }}x{{ else }}empty{{ end }}", "empty"),
    ("range empty list else", "{{ range list }}x{{ else }}empty{{ end }}", "empty"),
    ("range int", "{{ range 3 }}{{ . }}{{ end }}", "012"),
    ("range break", "{{ range $i, $h := .hosts }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $h }} {{ end }}", "a.example b.example "),
    ("range continue", "{{ range $i, $h := .hosts }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $i }}{{ end }}", "02"),
    ("range dollar", "{{ range .hosts }}{{ $.name }}{{ end }}", "webwebweb"),
    ("range variable scope", "{{ $x := 0 }}{{ range .hosts }}{{ $x = 1 }}{{ end }}{{ $x }}", "1"),
    ("range assign vars", "{{ $i := 0 }}{{ $v := 0 }}{{ range $i, $v = .hosts }}{{ end }}{{ $i }} {{ $v }}", "2 c.example"),
    ("nested range", "{{ range $a := list 1 2 }}{{ range $b := list 3 4 }}{{ $a }}{{ $b }} {{ end }}{{ end }}", "13 14 23 24 "),
    ("define template", r#"{{ define "x" }}<{{ . }}>{{ end }}{{ template "x" .name }}"#, "<web>"),
    ("template without data", r#"{{ define "x" }}{{ . }}{{ end }}{{ template "x" }}"#, "<no value>"),
    ("block", r#"{{ block "b" .port }}[{{ . }}]{{ end }}"#, "[8080]"),
    ("and", "{{ and 1 0 2 }}", "0"),
    ("and all true", "{{ and 1 2 3 }}", "3"),
    ("or", r#"{{ or "" .missing "x" }}"#, "x"),
    ("or none", "{{ or 0 false }}", "false"),
    ("and short-circuit", "{{ and false (index .hosts 99) }}", "false"),
    ("or short-circuit", "{{ or true (index .hosts 99) }}", "true"),
    ("not", "{{ not .on }} {{ not .empty }}", "false true"),
    ("len", "{{ len .hosts }} {{ len .name }} {{ len .svc }}", "3 3 2"),
    ("index list", "{{ index .hosts 1 }}", "b.example"),
    ("index map", r#"{{ index .svc "web" "port" }}"#, "80"),
    ("index map missing", r#"{{ index .svc "nope" }}"#, "<no value>"),
    ("print", r#"{{ print "a" 1 2 "b" }}"#, "a1 2b"),
    ("print nil", "{{ print .missing }}", "<nil>"),
    ("println", r#"{{ println "a" 1 }}"#, "a 1\n"),
    ("printf verbs", r#"{{ printf "%s|%d|%v|%q|%x|%%" "s" 42 true "q" 255 }}"#, "s|42|true|\"q\"|ff|%"),
    ("printf width", r#"{{ printf "%5d|%-4s|%05d" 42 "ab" 7 }}"#, "   42|ab  |00007"),
    ("printf float", r#"{{ printf "%.2f %v %6.2v %e" 3.14159 2.5 3.14159 1234.5678 }}"#, "3.14 2.5    3.1 1.234568e+03"),
    ("printf hex string", r#"{{ printf "%x %X" "hi" 255 }}"#, "6869 FF"),
    ("printf bad verb", r#"{{ printf "%d" "x" }}"#, "%!d(string=x)"),
    ("printf missing", r#"{{ printf "%s %s" "x" }}"#, "x %!s(MISSING)"),
    ("printf extra", r#"{{ printf "%s" "x" 1 }}"#, "x%!(EXTRA int=1)"),
    ("printf list", r#"{{ printf "%v" .hosts }}"#, "[a.example b.example c.example]"),
    ("printf quote escapes", r#"{{ printf "%q" "a\"b\n\x01\u00a0é" }}"#, r#""a\"b\n\x01\u00a0é""#),
    ("urlquery", r#"{{ urlquery "a b&c" }}"#, "a+b%26c"),
    ("eq", r#"{{ eq .name "web" }} {{ eq 1 2 }} {{ eq 1 2 1 }}"#, "true false true"),
    ("eq nil", "{{ eq .missing .nil }}", "true"),
    ("ne", r#"{{ ne .name "api" }}"#, "true"),
    ("lt le gt ge", "{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 3 2 }}", "true true false true"),
    ("lt strings", r#"{{ lt "a" "b" }}"#, "true"),
    ("default used", r#"{{ .missing | default "dflt" }}"#, "dflt"),
    ("default not used", r#"{{ .name | default "dflt" }}"#, "web"),
    ("default empty string", r#"{{ default "d" "" }}"#, "d"),
    ("default zero", r#"{{ default 5 0 }}"#, "5"),
    ("empty", r#"{{ empty .empty }} {{ empty .name }} {{ empty .missing }} {{ empty 0 }}"#, "true false true true"),
    ("coalesce", r#"{{ coalesce .missing "" "x" "y" }}"#, "x"),
    ("coalesce none", r#"{{ coalesce .missing "" }}"#, "<no value>"),
    ("ternary", r#"{{ ternary "yes" "no" .on }} {{ .off | ternary "yes" "no" }}"#, "yes no"),
    ("quote", r#"{{ quote "a" 1 }} {{ squote "b" }}"#, r#""a" "1" 'b'"#),
    ("cat", r#"{{ cat "a" 1 .missing "b" }}"#, "a 1 b"),
    ("upper lower title", r#"{{ upper "aB" }} {{ lower "aB" }} {{ title "hello wide-world o'neil" }}"#, "AB ab Hello Wide-World O'Neil"),
    ("trim family", r#"{{ trim "  x  " }}|{{ trimAll "-" "--x--" }}|{{ trimPrefix "pre-" "pre-x" }}|{{ trimSuffix ".com" "x.com" }}"#, "x|x|x|x"),
    ("replace", r#"{{ "a.b.c" | replace "." "-" }}"#, "a-b-c"),
    ("repeat", r#"{{ repeat 3 "ab" }}"#, "ababab"),
    ("contains prefix suffix", r#"{{ contains "cat" "catch" }} {{ hasPrefix "ca" "cat" }} {{ hasSuffix "at" "cat" }} {{ hasPrefix "x" "cat" }}"#, "true true true false"),
    ("file provider split", r#"{{ split "a,b,c" "," }}"#, "[a b c]"),
    ("split range", r#"{{ range split "a,b" "," }}<{{ . }}>{{ end }}"#, "<a><b>"),
    ("splitList", r#"{{ splitList "," "a,b" }}"#, "[a b]"),
    ("join", r#"{{ list "a" "b" 3 | join "," }}"#, "a,b,3"),
    ("join hosts", r#"{{ join "`,`" .hosts }}"#, "a.example`,`b.example`,`c.example"),
    ("list", "{{ list 1 \"a\" true }}", "[1 a true]"),
    ("dict get", r#"{{ $d := dict "a" 1 "b" "x" }}{{ get $d "b" }} {{ $d.a }}"#, "x 1"),
    ("dict odd", r#"{{ dict "a" }}"#, "map[a:]"),
    ("get missing", r#"{{ get .svc "none" }}|"#, "|"),
    ("hasKey", r#"{{ hasKey .svc "api" }} {{ hasKey .svc "x" }}"#, "true false"),
    ("keys", r#"{{ keys .svc }}"#, "[api web]"),
    ("first last", "{{ first .hosts }} {{ last .hosts }}", "a.example c.example"),
    ("has", r#"{{ has "b.example" .hosts }}"#, "true"),
    ("append", r#"{{ append .hosts "d" }}"#, "[a.example b.example c.example d]"),
    ("sortAlpha", r#"{{ list "b" "c" "a" | sortAlpha }}"#, "[a b c]"),
    ("until", "{{ until 3 }} {{ until -2 }}", "[0 1 2] [0 -1]"),
    ("untilStep", "{{ untilStep 0 10 3 }} {{ untilStep 5 0 -2 }} {{ untilStep 0 5 -1 }}", "[0 3 6 9] [5 3 1] []"),
    ("seq", "{{ seq 3 }}|{{ seq 2 4 }}|{{ seq 0 2 6 }}|{{ seq 3 1 }}|{{ seq 0 }}", "1 2 3|2 3 4|0 2 4 6|3 2 1|1 0"),
    ("range until", "{{ range $i := until 2 }}r{{ $i }} {{ end }}", "r0 r1 "),
    ("arith", "{{ add 1 2 3 }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 3 }}", "6 -2 24 3 1"),
    ("arith converts", r#"{{ add "2" 1.9 true }}"#, "4"),
    ("add1 max min", "{{ add1 4 }} {{ max 1 7 3 }} {{ min 4 2 9 }}", "5 7 2"),
    ("atoi int", r#"{{ atoi "12" }} {{ atoi "x" }} {{ int "0x10" }} {{ int 2.9 }}"#, "12 0 16 2"),
    ("toString", "{{ toString 12 | printf \"%q\" }}", "\"12\""),
    ("float64", r#"{{ float64 "2.5" }}"#, "2.5"),
    ("b64", r#"{{ b64enc "user:pass" }} {{ b64dec "dXNlcjpwYXNz" }} {{ b64dec "!!" }}"#, "dXNlcjpwYXNz user:pass illegal base64 data at input byte 0"),
    ("regexMatch", r#"{{ regexMatch "^[a-z]+$" "abc" }} {{ regexMatch "^[a-z]+$" "a1" }}"#, "true false"),
    ("regexReplaceAll", r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}"#, "-W-xxW-"),
    ("indent", r#"{{ "a\nb" | indent 2 }}"#, "  a\n  b"),
    ("nindent", r#"{{ "a" | nindent 2 }}"#, "\n  a"),
    ("nospace", r#"{{ nospace " a b\tc " }}"#, "abc"),
    ("normalize", r#"{{ normalize "my_app.v2/api" }}"#, "my-app-v2-api"),
    ("env missing", r#"{{ env "SWITCHYARD_TEMPLATE_TEST_UNSET" }}|"#, "|"),
    ("expandenv missing", r#"{{ expandenv "a-${SWITCHYARD_TEMPLATE_TEST_UNSET}-$ b" }}"#, "a--$ b"),
    ("yaml generation", "http:\n  routers:\n{{- range $i, $h := .hosts }}\n    r{{ $i }}:\n      rule: Host(`{{ $h }}`)\n{{- end }}\n", "http:\n  routers:\n    r0:\n      rule: Host(`a.example`)\n    r1:\n      rule: Host(`b.example`)\n    r2:\n      rule: Host(`c.example`)\n"),
    ("declaration prints nothing", "{{ $x := 5 }}", ""),
    ("variable shadow in if", "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
    ("decl in paren", "{{ ($x := 3) }}{{ $x }}", "33"),
    ("unicode text", "héllo {{ \"wörld\" | upper }}", "héllo WÖRLD"),
];

/// (description, template, expected error text, as Display gives it)
const ERR: &[(&str, &str, &str)] = &[
    (
        "unknown function",
        "a\n{{ nope 1 }}",
        "t:2:3: function \"nope\" not defined",
    ),
    (
        "undefined variable",
        "{{ $x }}",
        "t:1:3: undefined variable \"$x\"",
    ),
    (
        "assign undefined",
        "{{ $x = 1 }}",
        "undefined variable \"$x\"",
    ),
    ("unclosed action", "{{ .a ", "t:1:"),
    ("unclosed action eof", "{{ .a", "unclosed action"),
    ("missing end", "{{ if .a }}x", "unexpected EOF"),
    ("extra end", "x{{ end }}", "unexpected {{end}}"),
    ("stray else", "{{ else }}", "unexpected {{else}}"),
    (
        "break outside range",
        "{{ break }}",
        "{{break}} outside {{range}}",
    ),
    (
        "continue outside range",
        "{{ if 1 }}{{ continue }}{{ end }}",
        "{{continue}} outside {{range}}",
    ),
    ("unclosed comment", "{{/* x", "unclosed comment"),
    (
        "comment text after",
        "{{/* x */ .a }}",
        "comment ends before closing delimiter",
    ),
    ("bad number", "{{ 3x }}", "bad number syntax"),
    (
        "unterminated string",
        "{{ \"abc }}",
        "unterminated quoted string",
    ),
    ("unclosed paren", "{{ (print 1 }}", "unclosed left paren"),
    ("extra paren", "{{ print 1) }}", "unexpected right paren"),
    ("empty action", "{{ }}", "missing value for command"),
    ("nil command", "{{ nil }}", "nil is not a command"),
    (
        "non executable stage",
        "{{ 1 | 2 }}",
        "non executable command in pipeline stage 2",
    ),
    (
        "argument to non-function",
        "{{ .name 1 }}",
        "name is not a method but has arguments",
    ),
    (
        "pipe into literal arg",
        "{{ .name | .port }}",
        "port is not a method but has arguments",
    ),
    (
        "field of string",
        "{{ .name.x }}",
        "t:1:3: can't evaluate field x in type string",
    ),
    (
        "field of bool data",
        "{{ .x }}",
        "can't evaluate field x in type bool",
    ),
    (
        "index out of range",
        "{{ index .hosts 5 }}",
        "error calling index: index out of range: 5",
    ),
    (
        "index nil",
        "{{ index .missing 0 }}",
        "index of untyped nil",
    ),
    (
        "div by zero",
        "line1\n  {{ div 1 0 }}",
        "t:2:5: error calling div: runtime error: integer divide by zero",
    ),
    (
        "incompatible eq",
        "{{ eq 1 \"1\" }}",
        "incompatible types for comparison",
    ),
    (
        "eq int float",
        "{{ eq 1 1.0 }}",
        "incompatible types for comparison",
    ),
    (
        "lt bool",
        "{{ lt true false }}",
        "invalid type for comparison",
    ),
    ("len int", "{{ len 3 }}", "len of type int"),
    (
        "upper of int",
        "{{ upper 3 }}",
        "wrong type for value; expected string; got int",
    ),
    (
        "ternary not bool",
        "{{ ternary 1 2 \"x\" }}",
        "expected bool",
    ),
    (
        "undefined template",
        "{{ template \"x\" }}",
        "template \"x\" not defined",
    ),
    (
        "range over string",
        "{{ range .name }}{{ end }}",
        "range can't iterate over web",
    ),
    (
        "range over int two vars",
        "{{ range $i, $v := 3 }}{{ end }}",
        "can't use 3 to iterate over more than one variable",
    ),
    (
        "regex bad",
        "{{ regexReplaceAll \"(\" \"a\" \"b\" }}",
        "error calling regexReplaceAll: regexp: Compile",
    ),
    (
        "recursive template",
        "{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}",
        "exceeded maximum template depth",
    ),
    ("huge until", "{{ until 100000000 }}", "too long"),
    (
        "define inside if",
        "{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}",
        "unexpected define",
    ),
    (
        "too many decls in if",
        "{{ if $a, $b := 1 }}{{ end }}",
        "too many declarations in if",
    ),
    (
        "wrong arg count",
        "{{ \"abc\" | trimPrefix }}",
        "t:1:11: wrong number of args for trimPrefix: want 2 got 1",
    ),
    (
        "else if in range",
        "{{ range .hosts }}{{ else if 1 }}{{ end }}",
        "unexpected if after else in range",
    ),
];

#[test]
fn renders_as_go_does() {
    let mut failures = Vec::new();
    for (desc, text, want) in OK {
        match render(text, D) {
            Ok(got) if got == *want => {}
            other => failures.push(format!(
                "{desc}: {text:?}\n    want {want:?}\n    got  {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_as_go_does() {
    let mut failures = Vec::new();
    for (desc, text, want) in ERR {
        let data = if desc.contains("bool data") {
            "false"
        } else {
            D
        };
        match render(text, data) {
            Err(got) if got.contains(want) => {}
            other => failures.push(format!(
                "{desc}: {text:?}\n    want error {want:?}\n    got  {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn error_carries_name_line_and_column() {
    let err = Template::parse("dyn.yml", "a: 1\nb: {{ nope }}\n").expect_err("unknown function");
    assert_eq!((err.name(), err.line(), err.col()), ("dyn.yml", 2, 6));
    assert_eq!(
        err.to_string(),
        "dyn.yml:2:6: function \"nope\" not defined"
    );
}

#[test]
fn env_and_expandenv_read_the_process_environment() {
    // A variable only this test sets.
    std::env::set_var("SWITCHYARD_TEMPLATE_TEST_HOST", "env.example");
    assert_eq!(
        render(r#"{{ env "SWITCHYARD_TEMPLATE_TEST_HOST" }}"#, "null").as_deref(),
        Ok("env.example")
    );
    assert_eq!(
        render(r#"{{ expandenv "h=$SWITCHYARD_TEMPLATE_TEST_HOST;${SWITCHYARD_TEMPLATE_TEST_HOST}" }}"#, "null")
            .as_deref(),
        Ok("h=env.example;env.example")
    );
}

#[test]
fn sprig_split_is_a_map_outside_the_file_provider() {
    let t = Template::parse("t", r#"{{ $p := split "," "a,b" }}{{ $p._1 }}"#).expect("parses");
    assert_eq!(
        t.render(&Value::Nil, &Functions::standard()).as_deref(),
        Ok("b")
    );
}

#[test]
fn custom_functions_are_called_and_checked_at_parse_time() {
    let mut funcs = Functions::standard();
    funcs.insert("double", |a| match a {
        [Value::Int(i)] => Ok(Value::Int(i * 2)),
        _ => Err("want one int".to_string()),
    });
    assert!(
        Template::parse("t", "{{ double 2 }}").is_err(),
        "standard set has no double"
    );
    let t = Template::parse_with("t", "{{ 21 | double }}", &funcs).expect("parses");
    assert_eq!(t.render(&Value::Nil, &funcs).as_deref(), Ok("42"));
    let err = t
        .render(&Value::Nil, &Functions::standard())
        .expect_err("function missing at render");
    assert!(err.to_string().contains("\"double\" not defined"), "{err}");
}

#[test]
fn has_actions_tells_plain_text_apart() {
    assert!(!Template::parse("t", "a: b\n")
        .expect("parses")
        .has_actions());
    assert!(Template::parse("t", "a: {{ 1 }}\n")
        .expect("parses")
        .has_actions());
    assert!(!Template::parse(
        "t",
        "a: {{/* c */}}
"
    )
    .expect("parses")
    .has_actions());
}

fn template_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "\n",
        ".",
        ".a",
        ".b.c",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-2",
        "3.5",
        "0x1",
        "nil",
        "true",
        "printf",
        "\"%d%s%v\"",
        "len",
        "index",
        "and",
        "or",
        "eq",
        "lt",
        "until",
        "seq",
        "add",
        "div",
        "dict",
        "list",
        "default",
        "split",
        ",",
        "/*",
        "*/",
        "x",
        "é",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Parsing and rendering never panic, whatever the text.
    #[test]
    fn random_templates_never_panic(text in template_text()) {
        if let Ok(t) = Template::parse("t", &text) {
            let _ = t.render(&data(D), &Functions::standard());
        }
    }

    /// Nor does any byte string.
    #[test]
    fn random_bytes_never_panic(text in ".{0,60}") {
        if let Ok(t) = Template::parse("t", &text) {
            let _ = t.render(&Value::Nil, &Functions::standard());
        }
    }
}
