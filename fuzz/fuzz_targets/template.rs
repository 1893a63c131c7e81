//! Go templates (dynamic files, Docker `defaultRule`): parsing and
//! rendering any text never panics, and a text without `{{` renders to
//! itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_config::template::{Functions, Template, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let funcs = Functions::file_provider();
    let Ok(t) = Template::parse_with("fuzz", text, &funcs) else {
        return;
    };
    let data = Value::Map(
        [
            ("a".to_string(), Value::List(vec![Value::Int(1), Value::from("x")])),
            ("b".to_string(), Value::from("text")),
        ]
        .into_iter()
        .collect(),
    );
    let out = t.render(&data, &funcs);
    if !text.contains("{{") {
        assert_eq!(out.as_deref(), Ok(text), "plain text must render to itself");
    }
});
