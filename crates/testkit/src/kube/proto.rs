//! The protobuf bodies client-go sends for built-in kinds
//! (`Content-Type: application/vnd.kubernetes.protobuf`): the `k8s\0`
//! magic, a `runtime.Unknown` envelope (type meta, raw object), and the
//! object in the wire format of `k8s.io/api`'s `generated.proto`.
//!
//! Only what Traefik writes is decoded: an Ingress's metadata (name,
//! namespace, resource version, labels, annotations) and status, which is
//! what `UpdateStatus` carries; anything else is refused as an unsupported
//! media type, so a test learns of it.

use serde_json::{json, Map, Value};

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*at).ok_or("truncated varint")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".to_string())
}

/// The fields of one message, in order.
fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let key = varint(buf, &mut at)?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(buf, &mut at)?),
            1 => {
                at += 8;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?).map_err(|_| "length too large")?;
                let end = at
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or("truncated field")?;
                let bytes = &buf[at..end];
                at = end;
                Wire::Bytes(bytes)
            }
            5 => {
                at += 4;
                Wire::Fixed
            }
            other => return Err(format!("unsupported wire type {other}")),
        };
        if at > buf.len() {
            return Err("truncated field".to_string());
        }
        out.push((key >> 3, wire));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Value {
    json!(String::from_utf8_lossy(bytes))
}

/// Sets an `omitempty` string field: Go's protobuf writes empty strings,
/// its JSON leaves them out.
fn put(map: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    if !bytes.is_empty() {
        map.insert(key.to_string(), text(bytes));
    }
}

/// A `map<string, string>` entry (key 1, value 2).
fn entry(bytes: &[u8]) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = json!("");
    for (tag, wire) in fields(bytes)? {
        match (tag, wire) {
            (1, Wire::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
            (2, Wire::Bytes(b)) => value = text(b),
            _ => {}
        }
    }
    Ok((key, value))
}

fn object_meta(bytes: &[u8]) -> Result<Value, String> {
    let mut meta = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (tag, wire) in fields(bytes)? {
        match (tag, wire) {
            (1, Wire::Bytes(b)) => put(&mut meta, "name", b),
            (3, Wire::Bytes(b)) => put(&mut meta, "namespace", b),
            (5, Wire::Bytes(b)) => put(&mut meta, "uid", b),
            (6, Wire::Bytes(b)) => put(&mut meta, "resourceVersion", b),
            (7, Wire::Varint(v)) => drop(meta.insert("generation".into(), json!(v))),
            (11, Wire::Bytes(b)) => {
                let (k, v) = entry(b)?;
                labels.insert(k, v);
            }
            (12, Wire::Bytes(b)) => {
                let (k, v) = entry(b)?;
                annotations.insert(k, v);
            }
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    Ok(Value::Object(meta))
}

/// `IngressLoadBalancerIngress` (ip 1, hostname 2, ports 4).
fn lb_ingress(bytes: &[u8]) -> Result<Value, String> {
    let mut out = Map::new();
    let mut ports = Vec::new();
    for (tag, wire) in fields(bytes)? {
        match (tag, wire) {
            (1, Wire::Bytes(b)) => put(&mut out, "ip", b),
            (2, Wire::Bytes(b)) => put(&mut out, "hostname", b),
            (4, Wire::Bytes(b)) => {
                let mut port = Map::new();
                for (t, w) in fields(b)? {
                    match (t, w) {
                        // int32 on the wire as a varint (two's complement).
                        (1, Wire::Varint(v)) => {
                            drop(port.insert("port".into(), json!(v as u32 as i32)))
                        }
                        (2, Wire::Bytes(p)) => drop(port.insert("protocol".into(), text(p))),
                        (3, Wire::Bytes(e)) => drop(port.insert("error".into(), text(e))),
                        _ => {}
                    }
                }
                ports.push(Value::Object(port));
            }
            _ => {}
        }
    }
    if !ports.is_empty() {
        out.insert("ports".into(), Value::Array(ports));
    }
    Ok(Value::Object(out))
}

/// `IngressStatus { loadBalancer: { ingress: [...] } }`.
fn ingress_status(bytes: &[u8]) -> Result<Value, String> {
    let mut ingress = Vec::new();
    for (tag, wire) in fields(bytes)? {
        if let (1, Wire::Bytes(lb)) = (tag, wire) {
            for (t, w) in fields(lb)? {
                if let (1, Wire::Bytes(i)) = (t, w) {
                    ingress.push(lb_ingress(i)?);
                }
            }
        }
    }
    let mut load_balancer = Map::new();
    if !ingress.is_empty() {
        load_balancer.insert("ingress".into(), Value::Array(ingress));
    }
    Ok(json!({"loadBalancer": load_balancer}))
}

/// The JSON of a protobuf-encoded object, as far as the double reads it.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or("no protobuf magic prefix")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (tag, wire) in fields(envelope)? {
        match (tag, wire) {
            (1, Wire::Bytes(type_meta)) => {
                for (t, w) in fields(type_meta)? {
                    match (t, w) {
                        (1, Wire::Bytes(b)) => {
                            api_version = String::from_utf8_lossy(b).into_owned()
                        }
                        (2, Wire::Bytes(b)) => kind = String::from_utf8_lossy(b).into_owned(),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if (api_version.as_str(), kind.as_str()) != ("networking.k8s.io/v1", "Ingress") {
        return Err(format!(
            "the double decodes no protobuf {api_version} {kind}"
        ));
    }
    let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {}});
    for (tag, wire) in fields(raw)? {
        match (tag, wire) {
            (1, Wire::Bytes(b)) => object["metadata"] = object_meta(b)?,
            (3, Wire::Bytes(b)) => object["status"] = ingress_status(b)?,
            _ => {}
        }
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    /// A length-delimited field.
    fn field(tag: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(tag << 3) | 2, u8::try_from(bytes.len()).expect("short")];
        out.extend_from_slice(bytes);
        out
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn ingress_status_update() {
        let meta = cat(&[
            field(1, b"site"),
            field(3, b"default"),
            field(4, b""),
            field(6, b"42"),
            field(11, &cat(&[field(1, b"app"), field(2, b"web")])),
        ]);
        let port = cat(&[vec![1 << 3, 0x90, 0x03], field(2, b"TCP")]);
        let lb_ingress = cat(&[field(1, b"10.9.8.7"), field(2, b""), field(4, &port)]);
        let status = field(1, &field(1, &lb_ingress));
        let spec = field(1, b"traefik");
        let ingress = cat(&[field(1, &meta), field(2, &spec), field(3, &status)]);
        let type_meta = cat(&[field(1, b"networking.k8s.io/v1"), field(2, b"Ingress")]);
        let mut body = b"k8s\0".to_vec();
        body.extend(cat(&[
            field(1, &type_meta),
            field(2, &ingress),
            field(4, b"application/vnd.kubernetes.protobuf"),
        ]));
        let object = super::decode(&body).expect("decodes");
        assert_eq!(
            object,
            serde_json::json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "site", "namespace": "default", "resourceVersion": "42", "labels": {"app": "web"}},
                "status": {"loadBalancer": {"ingress": [{"ip": "10.9.8.7", "ports": [{"port": 400, "protocol": "TCP"}]}]}},
            })
        );
        assert!(super::decode(b"{}").is_err(), "no magic");
        assert!(super::decode(&body[..body.len() - 3]).is_err(), "truncated");
        let mut service = b"k8s\0".to_vec();
        service.extend(field(1, &cat(&[field(1, b"v1"), field(2, b"Service")])));
        assert!(super::decode(&service).is_err(), "other kinds refused");
    }
}
