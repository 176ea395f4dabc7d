// Passkey ceremonies of rampart's accounts package: fetch the options, call the WebAuthn API,
// post the result. Same-origin fetches carry Sec-Fetch-Site and the CSRF token header.
'use strict';
(function () {
  const token = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const prefix = (document.querySelector('meta[name="accounts-prefix"]') || {}).content || '/accounts';
  const status = document.getElementById('passkey-status');
  const say = (msg) => { if (status) status.textContent = msg; };

  const b64 = (s) => {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(s + '='.repeat((4 - s.length % 4) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
  };
  const unb64 = (buf) => {
    if (!buf) return undefined;
    let bin = '';
    for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };

  async function post(url, body) {
    const resp = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': token },
      body: body === undefined ? '{}' : JSON.stringify(body),
    });
    return resp;
  }
  async function json(resp) {
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (data.reauthenticate) {
      // Adding a passkey needs a recent password (sudo mode): confirm, then come back.
      location.assign(data.reauthenticate + '?next=' + encodeURIComponent(location.pathname));
    }
    if (!resp.ok) throw new Error(data.error || ('HTTP ' + resp.status));
    return data;
  }

  async function register() {
    const opts = (await json(await post(prefix + '/passkeys/begin-register'))).publicKey;
    opts.challenge = b64(opts.challenge);
    opts.user.id = b64(opts.user.id);
    (opts.excludeCredentials || []).forEach((c) => { c.id = b64(c.id); });
    const cred = await navigator.credentials.create({ publicKey: opts });
    const name = (document.getElementById('passkey-name') || {}).value || '';
    await json(await post(prefix + '/passkeys/finish-register?name=' + encodeURIComponent(name), {
      id: cred.id,
      rawId: unb64(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: unb64(cred.response.clientDataJSON),
        attestationObject: unb64(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : [],
      },
    }));
    say('Passkey added.');
    location.assign(prefix + '/passkeys');
  }

  // login signs in with a passkey; with reauth it confirms the logged-in user instead (sudo mode).
  async function login(next, reauth) {
    const base = reauth ? prefix + '/confirm/passkey' : prefix + '/login/passkey';
    const opts = (await json(await post(base + '/begin'))).publicKey;
    opts.challenge = b64(opts.challenge);
    (opts.allowCredentials || []).forEach((c) => { c.id = b64(c.id); });
    const cred = await navigator.credentials.get({ publicKey: opts });
    const resp = await post(base + '/finish?next=' + encodeURIComponent(next || '/'), {
      id: cred.id,
      rawId: unb64(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: unb64(cred.response.clientDataJSON),
        authenticatorData: unb64(cred.response.authenticatorData),
        signature: unb64(cred.response.signature),
        userHandle: unb64(cred.response.userHandle),
      },
    });
    // Success is {"redirect": next}, the JSON form of the login's usual 303.
    const data = await json(resp);
    if (data.redirect) { location.assign(data.redirect); return; }
    throw new Error('unexpected answer');
  }

  const run = (fn) => (ev) => {
    ev.preventDefault();
    say('Waiting for your passkey…');
    fn().catch((e) => say('Passkey failed: ' + e.message));
  };
  const add = document.getElementById('passkey-add');
  if (add) add.addEventListener('click', run(register));
  const btn = document.getElementById('passkey-login');
  if (btn) btn.addEventListener('click', run(() => login(btn.dataset.next)));
  const again = document.getElementById('passkey-reauth');
  if (again) again.addEventListener('click', run(() => login(again.dataset.next, true)));
})();
