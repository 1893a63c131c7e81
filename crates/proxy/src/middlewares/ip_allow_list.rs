//! `ipAllowList` (and the deprecated `ipWhiteList`): only clients whose
//! address (per `ipStrategy`) is in `sourceRange` pass; the others get
//! `rejectStatusCode` (403 by default).

use http::StatusCode;
use ipnet::IpNet;

use super::client_ip::IpStrategy;
use crate::forwarded::parse_ip_or_cidr;
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request};

pub struct IpAllowList {
    ranges: Vec<IpNet>,
    strategy: IpStrategy,
    reject: StatusCode,
    next: BoxHandler,
}

impl IpAllowList {
    pub fn new(
        source_range: &[String],
        strategy: IpStrategy,
        reject: Option<u16>,
        next: BoxHandler,
    ) -> Result<IpAllowList, String> {
        if source_range.is_empty() {
            return Err("sourceRange is empty, IPAllowLister not created".into());
        }
        let ranges = source_range
            .iter()
            .map(|s| {
                parse_ip_or_cidr(s)
                    .ok_or_else(|| format!("parsing CIDR allowed IPs: invalid IP or CIDR {s:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let reject = match reject {
            None | Some(0) => StatusCode::FORBIDDEN,
            Some(code) => StatusCode::from_u16(code)
                .map_err(|_| format!("invalid rejectStatusCode {code}"))?,
        };
        Ok(IpAllowList {
            ranges,
            strategy,
            reject,
            next,
        })
    }
}

impl Handler for IpAllowList {
    fn call(&self, req: Request) -> HandlerFuture {
        let allowed = self
            .strategy
            .client_ip(&req)
            .is_some_and(|ip| self.ranges.iter().any(|r| r.contains(&ip)));
        if allowed {
            return self.next.call(req);
        }
        let status = self.reject;
        Box::pin(async move {
            Err(ProxyError::Status {
                status,
                message: status.canonical_reason().unwrap_or("").to_string(),
            })
        })
    }
}

/// Translates an `ipAllowList` (or deprecated `ipWhiteList`) definition.
pub fn from_config(
    c: switchyard_config::middlewares::IpAllowList,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let strategy = super::client_ip::strategy_from_config(c.ip_strategy.as_ref())?;
    IpAllowList::new(
        &c.source_range,
        strategy.clone(),
        c.reject_status_code,
        super::noop(),
    )?;
    Ok(super::validated(move |next| {
        IpAllowList::new(
            &c.source_range,
            strategy.clone(),
            c.reject_status_code,
            next,
        )
    }))
}
