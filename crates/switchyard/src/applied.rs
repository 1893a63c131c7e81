//! What became of a configuration a provider sent: the elements of that
//! provider that the build found an error in.

use switchyard_server::runtime::{Elements, Status};
use switchyard_server::Runtime;

/// The result of applying one provider's configuration: which of its
/// elements have errors. The others serve; so do those with only a
/// warning ([`ElementStatus::Warning`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    errors: Vec<ElementError>,
    tls_errors: Vec<String>,
}

/// One element with errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ElementError {
    /// What the element is.
    pub kind: ElementKind,
    /// Its qualified name, `name@provider`, as the API shows it.
    pub name: String,
    /// Whether it was left out or serves with a warning.
    pub status: ElementStatus,
    /// What the build found, one message per problem.
    pub messages: Vec<String>,
}

/// The kinds of element that can have errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementKind {
    /// An HTTP router (`http.routers`).
    Router,
    /// An HTTP service (`http.services`).
    Service,
    /// An HTTP middleware (`http.middlewares`).
    Middleware,
    /// A TCP router (`tcp.routers`).
    TcpRouter,
    /// A TCP service (`tcp.services`).
    TcpService,
    /// A TCP middleware (`tcp.middlewares`).
    TcpMiddleware,
}

/// How bad an element's errors are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementStatus {
    /// Left out: requests it would have taken get what they would get
    /// without it (usually 404).
    Disabled,
    /// Serving, with something ignored (an option not implemented, say).
    Warning,
}

impl Applied {
    /// The errors of `provider`'s elements in `runtime`.
    pub(crate) fn read(runtime: &Runtime, provider: &str) -> Applied {
        let info = &runtime.info;
        let kinds: [(ElementKind, &Elements); 6] = [
            (ElementKind::Router, &info.routers),
            (ElementKind::Service, &info.services),
            (ElementKind::Middleware, &info.middlewares),
            (ElementKind::TcpRouter, &info.tcp_routers),
            (ElementKind::TcpService, &info.tcp_services),
            (ElementKind::TcpMiddleware, &info.tcp_middlewares),
        ];
        let mut errors = Vec::new();
        for (kind, elements) in kinds {
            for element in elements.values() {
                if element.errors.is_empty() || element.provider() != provider {
                    continue;
                }
                errors.push(ElementError {
                    kind,
                    name: element.name.clone(),
                    status: match element.status {
                        Status::Warning | Status::Enabled => ElementStatus::Warning,
                        Status::Disabled => ElementStatus::Disabled,
                    },
                    messages: element.errors.clone(),
                });
            }
        }
        Applied {
            errors,
            tls_errors: info.tls_errors.clone(),
        }
    }

    /// No element of the provider has an error or a warning, and every
    /// certificate and TLS option could be used.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.tls_errors.is_empty()
    }

    /// The provider's elements that have errors or warnings, routers first,
    /// then services, middlewares, and the TCP ones, each by name.
    pub fn errors(&self) -> &[ElementError] {
        &self.errors
    }

    /// The element named `name` (as the provider wrote it, or qualified
    /// `name@provider`) when it has errors; the first of that name when
    /// elements of several kinds share it.
    pub fn error(&self, name: &str) -> Option<&ElementError> {
        self.errors.iter().find(|e| {
            e.name == name
                || e.name
                    .rsplit_once('@')
                    .is_some_and(|(bare, _)| bare == name)
        })
    }

    /// Certificates and TLS options that could not be used, whichever
    /// provider gave them (TLS settings are shared by all providers).
    pub fn tls_errors(&self) -> &[String] {
        &self.tls_errors
    }
}

impl std::fmt::Display for ElementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {}: {}",
            self.kind,
            self.name,
            self.messages.join("; ")
        )
    }
}
