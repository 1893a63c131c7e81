//! A service that answers one status with an empty body and calls nothing:
//! what a `weighted` child with a `status` is (the Gateway API provider puts
//! one in place of a route rule or backend it cannot load, and Traefik's
//! weighted balancer answers such a child's share with that status), or a
//! gRPC status as JSON in a `200`, as Traefik answers for a GRPCRoute's.

use http::{header, HeaderValue, StatusCode};

use crate::{body, Handler, HandlerFuture, Request, Response};

pub struct FixedStatus {
    status: StatusCode,
    /// The JSON body of a gRPC status (`{"code":14,"message":"..."}`).
    json: Option<String>,
}

impl FixedStatus {
    /// A handler answering `status`; an out-of-range code is an error.
    pub fn new(status: u16) -> Result<FixedStatus, String> {
        let status =
            StatusCode::from_u16(status).map_err(|_| format!("invalid status code {status}"))?;
        Ok(FixedStatus { status, json: None })
    }

    /// A handler answering `200` with the gRPC status `code` and `message`
    /// as JSON (Go's encoding of the status message: empty fields left out).
    pub fn grpc(code: i32, message: &str) -> FixedStatus {
        let mut fields = serde_json::Map::new();
        if code != 0 {
            fields.insert("code".into(), code.into());
        }
        if !message.is_empty() {
            fields.insert("message".into(), message.into());
        }
        FixedStatus {
            status: StatusCode::OK,
            json: Some(serde_json::Value::Object(fields).to_string()),
        }
    }
}

impl Handler for FixedStatus {
    fn call(&self, _req: Request) -> HandlerFuture {
        let mut resp = match &self.json {
            None => Response::new(body::empty()),
            Some(json) => {
                let mut resp = Response::new(body::full(json.clone()));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp
            }
        };
        *resp.status_mut() = self.status;
        Box::pin(async move { Ok(resp) })
    }
}
