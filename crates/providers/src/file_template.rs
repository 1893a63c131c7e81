//! Dynamic files are Go templates, as Traefik's file provider has them: each
//! file (YAML or TOML, alone or in a directory) is rendered with sprig's
//! functions, Traefik's `normalize` and Go's `strings.Split` as `split`, with
//! `false` as the data (`.` and `$`), then parsed. A file without `{{`
//! renders to itself. `debugLogGeneratedTemplate` logs the source and the
//! rendered text at debug level.

use std::path::Path;

use switchyard_config::chunked::{parse_dynamic_reusing, ElementIndex};
use switchyard_config::dynamic::Configuration;
use switchyard_config::loader::parse_dynamic;
use switchyard_config::template::{Functions, Rendered, Template, Value};

/// Renders `text` (the content of `path`) and parses the result. The error
/// names the file and line: of the template for a template error; for a
/// YAML/TOML error in the rendered text, the template's line that made it
/// (and, when that differs, the line of the rendered text too).
pub(crate) fn load(path: &Path, text: &str, debug_log: bool) -> Result<Configuration, String> {
    let rendered = render(path, text, debug_log)?;
    parse_dynamic(path, &rendered.text).map_err(|e| locate(e, &rendered))
}

/// [`load`], taking over the elements of `previous` (the file's last
/// parse, which `index` describes) whose text did not change; on error,
/// `previous` is left as it was.
pub(crate) fn load_reusing(
    path: &Path,
    text: &str,
    debug_log: bool,
    previous: &mut Option<Configuration>,
    index: &mut ElementIndex,
) -> Result<Configuration, String> {
    if !debug_log && !text.contains("{{") {
        // It renders to itself: no copy of a text that may be megabytes.
        return parse_dynamic_reusing(path, text, previous, index).map_err(|e| e.to_string());
    }
    let rendered = render(path, text, debug_log)?;
    parse_dynamic_reusing(path, &rendered.text, previous, index).map_err(|e| locate(e, &rendered))
}

/// The error `e` (in the rendered text) as [`load`] words it.
fn locate(mut e: switchyard_config::ConfigError, rendered: &Rendered) -> String {
    let Some(loc) = e.location.as_mut() else {
        return e.to_string();
    };
    let line = loc.line as usize;
    match rendered.source_line(line) {
        Some(source) if source != line => {
            loc.line = u32::try_from(source).unwrap_or(u32::MAX);
            format!(
                "{e} (at line {line} of the text the template rendered: \
                 providers.file.debugLogGeneratedTemplate logs it)"
            )
        }
        _ => e.to_string(),
    }
}

/// The text of `path` after its template is run.
pub(crate) fn render(path: &Path, text: &str, debug_log: bool) -> Result<Rendered, String> {
    let name = path.display().to_string();
    let funcs = Functions::file_provider();
    let rendered = Template::parse_with(&name, text, &funcs)
        .and_then(|t| t.render_mapped(&Value::Bool(false), &funcs))
        .map_err(|e| format!("template: {e}"))?;
    if debug_log {
        tracing::debug!(provider = "file", file = %name, "Template content: {text}");
        tracing::debug!(provider = "file", file = %name, "Rendering results: {}", rendered.text);
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
                "yaml error after a template that changed the line count: the template's line",
                "{{ range until 3 }}\n{{ end }}http:\n  routers:\n    r:\n      priority: high\n      service: s\n",
                Err("dyn.yml:5:"),
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
        // The rendered line is named too when it differs.
        let text =
            "{{ range until 3 }}\n{{ end }}http:\n  routers:\n    r:\n      priority: high\n";
        let err = load(path, text, false).expect_err("priority is not a number");
        assert!(
            err.contains("dyn.yml:5:")
                && err.contains("(at line 7 of the text the template rendered"),
            "{err}"
        );
    }
}
