// gatehouse: the WebAuthn ceremonies of the sign-in and account pages (docs/contract.md §10).
// Served by the gateway itself at /auth/static/webauthn.js under the pages' CSP (script-src
// 'self', connect-src 'self'). Everything else on the pages works without it.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  function decode(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  }
  function encode(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = decode(pk.challenge);
    pk.user.id = decode(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    return { publicKey: pk };
  }
  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = decode(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    return { publicKey: pk };
  }
  function credentialJson(c) {
    var r = c.response, out = {
      id: c.id, rawId: encode(c.rawId), type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: encode(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      out.response.userHandle = r.userHandle ? encode(r.userHandle) : null;
    }
    return out;
  }
  function post(path, body, method) {
    return fetch(path, {
      method: method || "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.text().then(function (t) {
        var j = {};
        try { j = t ? JSON.parse(t) : {}; } catch (e) { j = {}; }
        if (!r.ok) throw new Error(j.message || ("HTTP " + r.status));
        return j;
      });
    });
  }
  function say(el, text) {
    var out = (el.closest("section") || document).querySelector("[data-passkey-status]");
    if (out) out.textContent = text;
  }
  // Signed in now: the sign-in page sends a signed-in visitor on to `rd` after checking it
  // the way the form sign-in does, so the script never decides where to go itself.
  function onward(el) {
    return "/auth/login?rd=" + encodeURIComponent(el.getAttribute("data-rd") || "/");
  }
  function signIn(el, start, finish, body) {
    say(el, "Waiting for your passkey…");
    return post(start, {})
      .then(function (o) { return navigator.credentials.get(requestOptions(o)); })
      .then(function (c) { return post(finish, Object.assign({ credential: credentialJson(c) }, body)); })
      .then(function () { window.location.assign(onward(el)); })
      .catch(function (e) { say(el, "Passkey sign-in failed: " + e.message); });
  }
  document.querySelectorAll("[data-passkey-login]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function (ev) {
      ev.preventDefault();
      signIn(b, "/auth/login/passkey/start", "/auth/login/passkey/finish", {});
    });
  });
  document.querySelectorAll("[data-passkey-second-step]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function (ev) {
      ev.preventDefault();
      signIn(b, "/auth/login/mfa/webauthn/start", "/auth/login/mfa", { method: "webauthn" });
    });
  });
  document.querySelectorAll("[data-passkey-step-up]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function (ev) {
      ev.preventDefault();
      signIn(b, "/auth/mfa/verify/webauthn/start", "/auth/mfa/verify", { method: "webauthn" });
    });
  });
  document.querySelectorAll("form[data-passkey-register]").forEach(function (f) {
    f.hidden = false;
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = f.elements.namedItem("name").value, password = f.elements.namedItem("password").value;
      say(f, "Waiting for your passkey…");
      post("/auth/mfa/webauthn/register/start", { password: password })
        .then(function (o) { return navigator.credentials.create(creationOptions(o)); })
        .then(function (c) {
          return post("/auth/mfa/webauthn/register/finish", { name: name, credential: credentialJson(c) });
        })
        .then(function (r) {
          if (r.recovery_codes) {
            say(f, "Passkey added. Your recovery codes, shown once: " + r.recovery_codes.join("  "));
          } else {
            window.location.reload();
          }
        })
        .catch(function (e) { say(f, "Adding the passkey failed: " + e.message); });
    });
  });
  document.querySelectorAll("form[data-passkey-remove]").forEach(function (f) {
    f.hidden = false;
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var id = f.getAttribute("data-passkey-remove");
      var password = f.elements.namedItem("password").value;
      post("/auth/mfa/webauthn/" + encodeURIComponent(id), { password: password }, "DELETE")
        .then(function () { window.location.reload(); })
        .catch(function (e) { say(f, "Removing the passkey failed: " + e.message); });
    });
  });
})();
