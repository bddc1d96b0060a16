// Passkeys in a real browser: Chromium with a virtual authenticator (DevTools protocol
// WebAuthn.addVirtualAuthenticator: CTAP2, resident keys, user verification). Signs in with the
// password, registers a passkey from the account page's form, signs out, signs in with the
// password and the passkey button of the second step, then with the sign-in page's "Sign in
// with a passkey" button alone; each time the session must be two-factor.
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

  // Registration through the account page's own form and script.
  await page.goto(`${base}/auth/account`);
  await page.locator('#passkey-name').fill('Virtual');
  await page.locator('#passkey-password').fill(password);
  await page.locator('form[data-passkey-register] button[type=submit]').click();
  const added = page.getByText('Passkey added.');
  await added.waitFor({ state: 'visible' });
  const codes = (await added.textContent()).match(/[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}/g) || [];
  check(codes.length === 10, `a passkey registered from the account page, with 10 recovery codes shown once (${codes.length})`);
  await page.goto(`${base}/auth/account`);
  check(await page.locator('#passkeys ~ ul li').filter({ hasText: 'Virtual' }).count() === 1, 'the account page lists the passkey');

  // The second step of a password sign-in, with the passkey button beside the code field.
  await context.clearCookies();
  await page.goto(`${base}/auth/login?rd=/app`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  check(new URL(page.url()).searchParams.get('step') === 'mfa', 'the password leads to the second step');
  const second = page.getByRole('button', { name: 'Use a passkey or security key' });
  await second.waitFor({ state: 'visible' });
  await Promise.all([page.waitForURL((u) => u.pathname === '/app'), second.click()]);
  const stepped = await page.evaluate(async () => (await fetch('/auth/me')).json());
  check(stepped.session && stepped.session.mfa === true, 'the passkey as second step made a two-factor session');

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
