// Passkeys in a real browser: Chromium with a virtual authenticator (DevTools protocol
// WebAuthn.addVirtualAuthenticator: CTAP2, resident keys, user verification). Signs in with the
// password, registers a passkey with the gateway's ceremony (the page's own encoding, as
// webauthn.js does it), signs out, then signs in again with the sign-in page's "Sign in with a
// passkey" button alone and checks the session is two-factor.
//
//   node tests/browser/passkeys.mjs http://localhost:PORT USERNAME PASSWORD
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: passkeys.mjs BASE_URL USERNAME PASSWORD');
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  await page.goto(`${base}/auth/login?rd=/app`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  check(new URL(page.url()).pathname === '/app', 'signed in with the password');

  const made = await page.evaluate(async (password) => {
    const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer;
    const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const post = async (path, body) => {
      const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() };
    };
    const start = await post('/auth/mfa/webauthn/register/start', { password });
    if (start.status !== 200) return start;
    const pk = start.body.publicKey;
    pk.challenge = dec(pk.challenge);
    pk.user.id = dec(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = dec(c.id); });
    const c = await navigator.credentials.create({ publicKey: pk });
    return post('/auth/mfa/webauthn/register/finish', {
      name: 'Virtual',
      credential: {
        id: c.id, rawId: enc(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
        response: { clientDataJSON: enc(c.response.clientDataJSON), attestationObject: enc(c.response.attestationObject) },
      },
    });
  }, password);
  check(made.status === 201 && made.body.recovery_codes.length === 10, `a passkey registered (${JSON.stringify(made)})`);

  await context.clearCookies();
  await page.goto(`${base}/auth/login?rd=/app`);
  const button = page.getByRole('button', { name: 'Sign in with a passkey' });
  await button.waitFor({ state: 'visible' });
  check(true, 'the script shows the passkey button');
  await Promise.all([page.waitForURL((u) => u.pathname === '/app'), button.click()]);
  check(new URL(page.url()).pathname === '/app', 'the passkey alone signed in and went on to rd');
  const me = await page.evaluate(async () => (await fetch('/auth/me')).json());
  check(me.session && me.session.mfa === true && me.user.username, 'the session is two-factor');
} finally {
  await browser.close();
}
