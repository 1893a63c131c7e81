//! What the HTTP translations of the Kubernetes providers read from a
//! Service's EndpointSlices, as Traefik reads it.

use std::collections::HashSet;

use serde_json::Value;

/// The serving endpoints of a Service's slices on one named port.
#[derive(Debug, Default)]
pub(crate) struct ServingEndpoints<'a> {
    /// Whether some slice has a port of that name (with a number).
    pub port_found: bool,
    /// Each address once (the first slice naming it wins), with the port
    /// number of its slice.
    pub addresses: Vec<(&'a str, i64)>,
}

/// The addresses of `slices`' endpoints on the port named `port_name`:
/// serving ones (an absent condition counts as serving: Traefik reads
/// `serving`, not `ready`), terminating ones left out (Traefik keeps them as
/// "fenced" servers for sticky sessions only; Switchyard has no such
/// server yet).
pub(crate) fn serving_endpoints<'a>(slices: &[&'a Value], port_name: &str) -> ServingEndpoints<'a> {
    let mut out = ServingEndpoints::default();
    let mut seen = HashSet::new();
    for slice in slices {
        let target = slice
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(port_name))
            .and_then(|p| p.get("port").and_then(Value::as_i64))
            .unwrap_or(0);
        if target == 0 {
            continue;
        }
        out.port_found = true;
        for endpoint in slice
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let condition = |name: &str, absent: bool| {
                endpoint
                    .get("conditions")
                    .and_then(|c| c.get(name))
                    .and_then(Value::as_bool)
                    .unwrap_or(absent)
            };
            if !condition("serving", true) {
                continue;
            }
            let terminating = condition("terminating", false);
            for address in endpoint
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                // A terminating endpoint's address still counts as seen.
                if !seen.insert(address) || terminating {
                    continue;
                }
                out.addresses.push((address, target));
            }
        }
    }
    out
}
