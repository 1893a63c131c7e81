//! Dynamic files are Go templates, as Traefik's file provider has them: each
//! file (YAML or TOML, alone or in a directory) is rendered with sprig's
//! functions, Traefik's `normalize` and Go's `strings.Split` as `split`, with
//! `false` as the data (`.` and `$`), then parsed. A file without `{{`
//! renders to itself. `debugLogGeneratedTemplate` logs the source and the
//! rendered text at debug level.

use std::path::Path;

use switchyard_config::dynamic::Configuration;
use switchyard_config::loader::parse_dynamic;
use switchyard_config::template::{Functions, Template, Value};

/// Renders `text` (the content of `path`) and parses the result. The error
/// names the file and line: of the template for a template error; of the
/// rendered text for a YAML/TOML error, said so when the template changed
/// the line count.
pub(crate) fn load(path: &Path, text: &str, debug_log: bool) -> Result<Configuration, String> {
    let rendered = render(path, text, debug_log)?;
    parse_dynamic(path, &rendered).map_err(|e| {
        if rendered.lines().count() == text.lines().count() {
            e.to_string()
        } else {
            format!(
                "{e} (the line is one of the text the template rendered: \
                 providers.file.debugLogGeneratedTemplate logs it)"
            )
        }
    })
}

/// The text of `path` after its template is run.
pub(crate) fn render(path: &Path, text: &str, debug_log: bool) -> Result<String, String> {
    let name = path.display().to_string();
    let rendered = if text.contains("{{") {
        let funcs = Functions::file_provider();
        Template::parse_with(&name, text, &funcs)
            .and_then(|t| t.render(&Value::Bool(false), &funcs))
            .map_err(|e| format!("template: {e}"))?
    } else {
        text.to_string()
    };
    if debug_log {
        tracing::debug!(provider = "file", file = %name, "Template content: {text}");
        tracing::debug!(provider = "file", file = %name, "Rendering results: {rendered}");
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_then_parses_and_locates_errors() {
        let path = Path::new("/conf/dyn.yml");
        let cases: &[(&str, &str, Result<&str, &str>)] = &[
            (
                "no template: as is",
                "http:\n  routers:\n    r:\n      rule: Host(`a`)\n      service: s\n",
                Ok("r"),
            ),
            (
                "range generates routers",
                "http:\n  routers:\n{{- range $i := until 3 }}\n    r{{ $i }}:\n      rule: Host(`h{{ $i }}`)\n      service: s\n{{- end }}\n",
                Ok("r0,r1,r2"),
            ),
            (
                "split is strings.Split",
                "http:\n  routers:\n{{- range split \"x,y\" \",\" }}\n    {{ . }}:\n      rule: Host(`{{ . }}`)\n      service: s\n{{- end }}\n",
                Ok("x,y"),
            ),
            (
                "toml too",
                "[http.routers]\n{{ range list \"t1\" \"t2\" }}\n[http.routers.{{ . }}]\n  rule = \"Host(`a`)\"\n  service = \"s\"\n{{ end }}\n",
                Ok("t1,t2"),
            ),
            (
                "template error names file and line",
                "http:\n  routers:\n    r:\n      rule: {{ nope }}\n",
                Err("template: /conf/dyn.yml:4:15: function \"nope\" not defined"),
            ),
            (
                "execution error names file and line",
                "http:\n\n  x: {{ .missing }}\n",
                Err("template: /conf/dyn.yml:3:8: can't evaluate field missing in type bool"),
            ),
            (
                "yaml error after a template that changed the line count",
                "{{ range until 2 }}\n{{ end }}http:\n  routers: [\n",
                Err("the line is one of the text the template rendered"),
            ),
        ];
        for (desc, text, want) in cases {
            let path = if desc.contains("toml") {
                Path::new("/conf/dyn.toml")
            } else {
                path
            };
            let got = load(path, text, false).map(|c| {
                let routers = c.http.map(|h| h.routers).unwrap_or_default();
                routers.keys().cloned().collect::<Vec<_>>().join(",")
            });
            match (want, &got) {
                (Ok(w), Ok(g)) if w == g => {}
                (Err(w), Err(g)) if g.contains(w) => {}
                _ => panic!("{desc}: want {want:?}, got {got:?}"),
            }
        }
    }
}
