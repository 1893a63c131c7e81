//! Failures answered as the API server answers them: a `Status` object
//! with the HTTP code, a machine-readable reason and a message.

use serde_json::{json, Value};

/// One failed request, rendered by [`ApiError::status`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Value) -> ApiError {
        ApiError {
            code,
            reason,
            message,
            details,
        }
    }

    /// `<plural> "<name>" not found`.
    pub fn not_found(plural: &str, group: &str, name: &str) -> ApiError {
        let what = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        ApiError::new(
            404,
            "NotFound",
            format!("{what} \"{name}\" not found"),
            json!({"name": name, "group": group, "kind": plural}),
        )
    }

    /// A path naming no served kind.
    pub fn no_resource() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource".to_string(),
            json!({}),
        )
    }

    pub fn already_exists(plural: &str, group: &str, name: &str) -> ApiError {
        let what = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{what} \"{name}\" already exists"),
            json!({"name": name, "group": group, "kind": plural}),
        )
    }

    /// An update carrying a `resourceVersion` other than the stored one.
    pub fn conflict(plural: &str, group: &str, name: &str) -> ApiError {
        let what = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            json!({"name": name, "group": group, "kind": plural}),
        )
    }

    /// A resource version older than the history kept.
    pub fn expired(asked: u64, oldest: u64) -> ApiError {
        ApiError::new(
            410,
            "Expired",
            format!("too old resource version: {asked} ({oldest})"),
            json!({}),
        )
    }

    /// A `continue` token from before the history kept.
    pub fn expired_continue() -> ApiError {
        ApiError::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".to_string(),
            json!({}),
        )
    }

    pub fn bad_request(message: String) -> ApiError {
        ApiError::new(400, "BadRequest", message, json!({}))
    }

    pub fn invalid(message: String) -> ApiError {
        ApiError::new(422, "Invalid", message, json!({}))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized".to_string(), json!({}))
    }

    /// RBAC's refusal of `verb` on a collection, worded as the API server
    /// words it for a service account.
    pub fn forbidden(verb: &str, plural: &str, group: &str, namespace: Option<&str>) -> ApiError {
        let what = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{what} is forbidden: User \"system:serviceaccount:default:switchyard\" cannot {verb} resource \"{plural}\" in API group \"{group}\" {scope}"
            ),
            json!({"group": group, "kind": plural}),
        )
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
            json!({}),
        )
    }

    pub fn unsupported_media(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"),
            json!({}),
        )
    }

    pub fn not_acceptable() -> ApiError {
        ApiError::new(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml"
                .to_string(),
            json!({}),
        )
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.details.as_object().is_some_and(|d| !d.is_empty()) || self.code == 404 {
            status["details"] = self.details.clone();
        }
        status
    }
}
