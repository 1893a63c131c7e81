"use strict";
// The dashboard's certificates views, read before dashboard.js (whose
// router, `viewFor`, names them; they use its helpers and `tableView` when
// they run):
//   #/certificates?search=&status=&sortBy=&direction=&page=    the list, a page at a time
//   #/certificates/{id}         one certificate, by the SHA-256 of its DER

const CERT_STATUSES = [["", "All"], ["enabled", "Valid"], ["warning", "Expiring soon"], ["expired", "Expired"]];
// Rows per page of the certificates list.
const CERT_PAGE = 20;

function certBadge(status) {
  const text = {enabled: "Valid", warning: "Expires soon", expired: "Expired"}[status] || status;
  return `<span class="badge ${esc(status)}" data-status="${esc(status)}">${esc(text)}</span>`;
}

function certLink(c) {
  return `<a href="${href("certificates", c.name)}">${esc(c.commonName || c.sans?.[0] || c.name.slice(0, 16))}</a>`;
}

// A date as the API gives it, and how far from now.
function certDate(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return esc(iso);
  const days = Math.round((t - Date.now()) / 86400000);
  const rel = days === 0 ? "today" : days > 0 ? `in ${days} day${days === 1 ? "" : "s"}` : `${-days} day${days === -1 ? "" : "s"} ago`;
  return `<time datetime="${esc(iso)}">${esc(iso.replace("T", " ").replace("Z", " UTC"))}</time> <span class="muted">(${rel})</span>`;
}

function certIssuer(c) {
  return esc(c.issuerOrg || c.issuerCN || "");
}

function certificatesView() {
  return tableView({
    section: "certificates",
    title: "Certificates",
    path: "certificates",
    columns: [
      ["Status", "status", c => certBadge(c.status)],
      ["Common name", "name", certLink],
      ["SANs", null, c => (c.sans || []).map(n => `<code>${esc(n)}</code>`).join(", ") || `<span class="muted">none</span>`],
      ["Issuer", "issuer", certIssuer],
      ["Not after", "validUntil", c => certDate(c.notAfter)],
      ["Key", null, c => esc(c.keyType + (c.keySize ? " " + c.keySize : ""))],
    ],
    statuses: CERT_STATUSES,
    noun: ["certificate", "certificates"],
    rowClass: c => c.status === "expired" ? "has-error" : c.status === "warning" ? "has-warning" : "",
    pageSize: CERT_PAGE,
  });
}

function certificateView(id) {
  return {
    section: "certificates",
    mount(root) {
      root.innerHTML = `<p><a href="#/certificates">&larr; Certificates</a></p>
        <h1 id="detail-name">${esc(id)}</h1><div id="detail"></div>`;
    },
    async refresh(root) {
      const target = root.querySelector("#detail");
      let c;
      try {
        c = (await api("certificates/" + encodeURIComponent(id))).body;
      } catch (err) {
        if (err.status === 404) { target.innerHTML = errorsBox([err.message]); return; }
        throw err;
      }
      root.querySelector("#detail-name").textContent = c.commonName || id;
      let notice = "";
      if (c.status === "expired") {
        notice = `<div class="errors" role="alert" data-testid="cert-notice"><strong>Expired</strong> on ${certDate(c.notAfter)}: clients refuse it.</div>`;
      } else if (c.status === "warning") {
        notice = `<div class="warning-box" role="status" data-testid="cert-notice"><strong>Expires soon</strong>: ${certDate(c.notAfter)}.</div>`;
      }
      const row = (title, key, value) => `<dt>${esc(title)}</dt><dd data-field="${esc(key)}">${value}</dd>`;
      const text = key => c[key] === undefined || c[key] === "" ? `<span class="muted">none</span>` : `<code>${esc(c[key])}</code>`;
      target.innerHTML = notice + `<dl class="props" id="detail-props">
          ${row("Status", "status", certBadge(c.status))}
          ${row("Common name", "commonName", text("commonName"))}
          ${row("SANs", "sans", (c.sans || []).map(n => `<code>${esc(n)}</code>`).join(", ") || `<span class="muted">none</span>`)}
          ${row("Organization", "organization", text("organization"))}
          ${row("Country", "country", text("country"))}
          ${row("Issuer organization", "issuerOrg", text("issuerOrg"))}
          ${row("Issuer common name", "issuerCN", text("issuerCN"))}
          ${row("Issuer country", "issuerCountry", text("issuerCountry"))}
          ${row("Not before", "notBefore", certDate(c.notBefore))}
          ${row("Not after", "notAfter", certDate(c.notAfter))}
          ${row("Serial number", "serialNumber", text("serialNumber"))}
          ${row("Version", "version", text("version"))}
          ${row("Key", "keyType", esc(c.keyType) + (c.keySize ? ` <span class="muted">${esc(c.keySize)} bits</span>` : ""))}
          ${row("Signature algorithm", "signatureAlgorithm", text("signatureAlgorithm"))}
          ${row("Certificate SHA-256", "certFingerprint", text("certFingerprint"))}
          ${row("Public key SHA-256", "publicKeyFingerprint", text("publicKeyFingerprint"))}
        </dl>
        <h2>As the API shows it</h2><pre>${esc(JSON.stringify(c, null, 2))}</pre>`;
    },
  };
}

