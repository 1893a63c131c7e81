//! How any route attaches to our Gateways, as Traefik does it for every
//! route kind: each parentRef names a Gateway; on each of its listeners the
//! route is attached where the listener is the one the parentRef targets
//! (`sectionName`, `port`), takes the route's kind and namespace and shares
//! a hostname with it (for the kinds that have hostnames); the route is
//! translated for each listener (the `ResolvedRefs` condition does not
//! depend on it), and what it gives joins the configuration where the
//! listener is valid. The parents' `Accepted` and `ResolvedRefs`
//! conditions are the route's status.

use serde_json::{json, Value};

use super::rules::matching_hostnames;
use super::{
    condition, generation, object_error, text, texts, Gateway, Listener, StatusUpdate, Translation,
    CONTROLLER_NAME, GROUP,
};

/// A route kind's translation on one listener.
pub(crate) trait OnListener {
    /// What one listener's translation gives, joined to the configuration
    /// where the route is attached.
    type Part;
    /// The kind (`HTTPRoute`, `TCPRoute`, ...).
    fn kind(&self) -> &'static str;
    /// The plural the status is written under (`httproutes`, ...).
    fn resource(&self) -> &'static str;
    /// Whether the route's hostnames must meet the listener's.
    fn has_hostnames(&self) -> bool {
        true
    }
    /// The route on `listener` of `gateway`, for `hostnames` (the
    /// intersection with the listener's): its part, the problems to log and
    /// the `ResolvedRefs` condition.
    fn translate(
        &self,
        route: &Value,
        gateway: &Gateway,
        listener: &Listener,
        hostnames: &[String],
    ) -> (Self::Part, Vec<String>, Value);
    /// Joins a part of an attached route to the configuration.
    fn join(&mut self, part: Self::Part);
}

/// Whether a listener takes routes of `kind` from `namespace`.
fn allowed(listener: &Listener, namespace: &str, kind: &str) -> bool {
    listener.allowed_kinds.iter().any(|k| k == kind)
        && listener
            .allowed_namespaces
            .iter()
            .any(|n| n.is_empty() || n == namespace)
}

/// `route` on the listeners of `gateway`, as `parent_ref` targets them:
/// the parent's conditions.
fn on_gateway<T: OnListener>(
    t: &mut T,
    route: &Value,
    gateway: &mut Gateway,
    parent_ref: &Value,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    let namespace = text(route, "/metadata/namespace");
    let hostnames = texts(route, "/spec/hostnames");
    let gen = generation(route);
    let mut accepted = condition("Accepted", false, gen, "NoMatchingParent", "");
    let mut resolved: Option<Value> = None;
    let section = text(parent_ref, "/sectionName");
    let port = parent_ref.get("port").and_then(Value::as_i64);
    let snapshot = gateway.clone();
    for (li, listener) in snapshot.listeners.iter().enumerate() {
        let mut ok = (section.is_empty() || section == listener.name)
            && port.is_none_or(|p| p == listener.port);
        let still_refused = |c: &Value| text(c, "/status") == "False";
        if ok && !allowed(listener, &namespace, t.kind()) {
            if still_refused(&accepted) {
                accepted["reason"] = Value::from("NotAllowedByListeners");
            }
            ok = false;
        }
        let names = if t.has_hostnames() {
            matching_hostnames(listener.hostname.as_deref(), &hostnames)
        } else {
            Some(Vec::new())
        };
        if ok && names.is_none() {
            if still_refused(&accepted) {
                accepted["reason"] = Value::from("NoMatchingListenerHostname");
            }
            ok = false;
        }
        if ok {
            gateway.listeners[li].attached_routes += 1;
        }
        let configured = ok && listener.attached;
        // The ResolvedRefs condition does not depend on the listener: once
        // known, only the listeners that take the route are translated.
        if !configured && resolved.is_some() {
            continue;
        }
        let (part, listener_problems, c) =
            t.translate(route, &snapshot, listener, names.as_deref().unwrap_or(&[]));
        if resolved
            .as_ref()
            .is_none_or(|r| text(r, "/status") == "True")
        {
            resolved = Some(c);
        }
        if configured {
            problems.extend(listener_problems);
            t.join(part);
            accepted["reason"] = Value::from("Accepted");
            accepted["status"] = Value::from("True");
        }
    }
    let mut conditions = vec![accepted];
    conditions.extend(resolved);
    conditions
}

/// Every route of `list` attached to our Gateways' listeners through `t`;
/// their statuses and problems into `out`.
pub(crate) fn routes<T: OnListener>(
    t: &mut T,
    list: &[Value],
    gateways: &mut [Gateway],
    out: &mut Translation,
) {
    for route in list {
        let namespace = text(route, "/metadata/namespace");
        let mut parents = Vec::new();
        let mut problems = Vec::new();
        for parent_ref in route
            .pointer("/spec/parentRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let group = parent_ref
                .get("group")
                .and_then(Value::as_str)
                .unwrap_or(GROUP);
            let parent_kind = parent_ref
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("Gateway");
            if group != GROUP || parent_kind != "Gateway" {
                continue;
            }
            let parent_ns = Some(text(parent_ref, "/namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| namespace.clone());
            let parent_name = text(parent_ref, "/name");
            let Some(gateway) = gateways
                .iter_mut()
                .find(|g| g.namespace == parent_ns && g.name == parent_name)
            else {
                continue;
            };
            let conditions = on_gateway(t, route, gateway, parent_ref, &mut problems);
            parents.push(json!({
                "parentRef": parent_ref,
                "controllerName": CONTROLLER_NAME,
                "conditions": conditions,
            }));
        }
        if parents.is_empty() {
            continue;
        }
        problems.dedup();
        for p in problems {
            out.errors.push(object_error(route, t.kind(), p));
        }
        // The parents other controllers wrote stay.
        let mut all: Vec<Value> = route
            .pointer("/status/parents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| text(p, "/controllerName") != CONTROLLER_NAME)
            .cloned()
            .collect();
        all.extend(parents);
        out.statuses.push(StatusUpdate {
            resource: t.resource(),
            namespace,
            name: text(route, "/metadata/name"),
            status: json!({ "parents": all }),
        });
    }
}
