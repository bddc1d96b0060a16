// Every page gatehouse shows a browser, in Debian's chromium, light and dark: axe-core finds no
// accessibility violation, nothing scrolls sideways or sticks out of its card from 320 px to
// 1920 px, every control shows a focus ring of at least 3:1 against what surrounds it, focus
// starts on the first field and moves to the error after a failed submit, and the page loads
// nothing from anywhere but the gateway. Screenshots at 390, 768 and 1280 px go to $SCREENSHOTS
// (kept out of git) for people to look at.
//
// Along the way it walks the flows these pages carry: sign-up lands on `rd` signed in, sign-in
// errors, the account page's revoke, sign out everywhere else, change of password and sign
// out, setting up an authenticator app (QR code, first code, recovery codes), the second step
// of a sign-in (with an error, and with a recovery code), step-up, and the rate-limit message.
//
//   node tests/browser/pages.mjs http://127.0.0.1:PORT USERNAME PASSWORD
// The gateway's routes (set up by tests/it/real_browser.rs): /app (signed in), /admin (a group
// USERNAME is not in), /secure (two_factor), /down (an upstream that refuses); /nowhere has no
// route; /app/slow?sleep_ms= outlasts a 1 s upstream timeout.
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: pages.mjs BASE_URL USERNAME PASSWORD');
  process.exit(2);
}
const shots = process.env.SCREENSHOTS || 'screenshots';
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOT_WIDTHS = [390, 768, 1280];
const WIDTHS = [320, 390, 768, 1280, 1920];
const NEW_PASSWORD = 'a new password, 2nd of its name';

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

// What a page did that it must not: load from elsewhere, break its CSP. Checked on every page.
const problems = [];

/// A browser context in `scheme` that notes every request for anything but the gateway's own
/// address, and every console error (a CSP refusal is one).
async function context(scheme) {
  const ctx = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
  ctx.on('request', (req) => {
    if (!req.url().startsWith(base)) problems.push(`a page loaded ${req.url()}`);
  });
  ctx.on('console', (msg) => {
    // Chromium reports a page served with an error status as a failed load; that is expected.
    if (msg.type() === 'error' && !/the server responded with a status of [45]\d\d/.test(msg.text())) {
      problems.push(`console error: ${msg.text()}`);
    }
  });
  return ctx;
}

/// Sessions of `who` on other devices, as they would appear after signing in there.
async function signInElsewhere(who, secret) {
  for (const agent of [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
    'curl/8.5.0',
  ]) {
    const r = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': agent },
      body: JSON.stringify({ username: who, password: secret }),
    });
    if (r.status !== 200) throw new Error(`signing in as ${who} elsewhere: ${r.status}`);
  }
}

/// Everything this script asks of a page, at every width; screenshots named `name`.
async function inspect(page, name, scheme) {
  check(problems.length === 0, `${name} (${scheme}): nothing loaded from elsewhere, no CSP refusal${problems.map((p) => `\n  ${p}`).join('')}`);
  const violations = await axe(page);
  check(violations.length === 0, `${name} (${scheme}): axe finds no violations${describe(violations)}`);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    const { scroll, inner, sticking } = await page.evaluate(() => {
      const out = [];
      for (const card of document.querySelectorAll('.card')) {
        const c = card.getBoundingClientRect();
        for (const el of card.querySelectorAll('*')) {
          const r = el.getBoundingClientRect();
          if (r.width === 0 && r.height === 0) continue;
          if (r.right > c.right + 0.5 || r.left < c.left - 0.5) {
            out.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(c.left)}..${Math.round(c.right)}`);
          }
        }
      }
      return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, sticking: out };
    });
    check(scroll <= inner, `${name} (${scheme}) at ${width} px: no sideways scrolling (${scroll} <= ${inner})`);
    check(sticking.length === 0, `${name} (${scheme}) at ${width} px: nothing sticks out of its card${sticking.length ? `: ${sticking.slice(0, 5).join('; ')}` : ''}`);
    if (SHOT_WIDTHS.includes(width)) {
      await page.screenshot({ path: `${shots}/${name}-${width}-${scheme}.png`, fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await focusRings(page, name, scheme);
}

async function axe(page) {
  // Evaluated through the DevTools protocol, which the page's CSP (no scripts at all) does not
  // govern: the page itself stays as strict as it is served.
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations;
}

function describe(violations) {
  return violations.map((v) => `\n  ${v.id}: ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`).join('');
}

/// Tabs through every control (so `:focus-visible` applies as it does for a keyboard user) and
/// measures its focus ring: drawn, at least 2 px, and at least 3:1 against the colour around it.
async function focusRings(page, name, scheme) {
  // A click on the page's empty top corner: the next Tab starts from the top, as on arrival.
  await page.mouse.click(1, 1);
  const count = await page.evaluate(
    () => document.querySelectorAll('a[href], button, input:not([type=hidden]):not([hidden])').length,
  );
  const seen = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      let bg = null;
      for (let p = el.parentElement; p; p = p.parentElement) {
        const c = parse(getComputedStyle(p).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) { bg = c.slice(0, 3); break; }
      }
      bg = bg || [255, 255, 255];
      const ringColour = parse(s.outlineColor).slice(0, 3);
      const [hi, lo] = [lum(ringColour), lum(bg)].sort((a, b) => b - a);
      return {
        what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.name || '').trim().slice(0, 30)}"`,
        style: s.outlineStyle,
        width: parseFloat(s.outlineWidth),
        ratio: (hi + 0.05) / (lo + 0.05),
      };
    });
    if (!ring) continue;
    seen.push(ring);
  }
  check(seen.length === count, `${name} (${scheme}): Tab reaches all ${count} controls (${seen.length})`);
  const bad = seen.filter((r) => r.style === 'none' || r.width < 2 || r.ratio < 3);
  check(bad.length === 0, `${name} (${scheme}): every control shows a focus ring of at least 3:1 (lowest ${Math.min(...seen.map((r) => r.ratio)).toFixed(2)}:1)${bad.map((r) => `\n  ${r.what}: ${r.style} ${r.width}px ${r.ratio.toFixed(2)}:1`).join('')}`);
}

/// An authenticator app holding `secret` (base32, as the setup page shows it): RFC 6238 with
/// SHA-1, 6 digits and 30 s steps, as the gateway checks it.
function authenticator(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const c of secret.replace(/\s|=/g, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
      value &= (1 << bits) - 1;
    }
  }
  const key = Buffer.from(bytes);
  const code = (step) => {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(step));
    const h = createHmac('sha1', key).update(counter).digest();
    const n = (h.readUInt32BE(h[19] & 15) & 0x7fffffff) % 1000000;
    return String(n).padStart(6, '0');
  };
  return {
    last: 0,
    /// A code the gateway takes now: of a step within its one-step skew that is later than any
    /// used before (each step signs in once), with 3 s to spare either side.
    async fresh() {
      for (;;) {
        const t = Date.now() / 1000;
        const step = Math.max(Math.floor((t + 3) / 30) - 1, this.last + 1);
        if (step <= Math.floor((t - 3) / 30) + 1) {
          this.last = step;
          return code(step);
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    },
    /// A code no step near now has.
    wrong() {
      const now = Math.floor(Date.now() / 30000);
      const near = [-2, -1, 0, 1, 2].map((d) => code(now + d));
      for (let n = 0; ; n++) {
        const c = String(n).padStart(6, '0');
        if (!near.includes(c)) return c;
      }
    },
  };
}

async function focused(page) {
  // `autofocus` is applied at the next rendering opportunity after load, which a busy machine
  // can put after `goto` returns: wait (a little) for something to hold the focus first. A
  // page whose autofocus is broken still answers with the body, and fails the check.
  await page
    .waitForFunction(() => document.activeElement && document.activeElement !== document.body, null, { timeout: 3000 })
    .catch(() => {});
  return page.evaluate(() => document.activeElement && document.activeElement.id);
}

async function go(page, path) {
  // Chromium honours `autofocus` only in the page that has the window's focus: a page of an
  // earlier context, left in the background, would load without it.
  await page.bringToFront();
  const response = await page.goto(`${base}${path}`);
  return response.status();
}

async function submit(page, button) {
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button, exact: true }).click()]);
}

function path(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

try {
  for (const scheme of ['light', 'dark']) {
    const ctx = await context(scheme);
    const page = await ctx.newPage();

    // Sign-up: the rules before submitting, then straight on to rd, signed in.
    check((await go(page, '/auth/register?rd=%2Fapp%2Fwelcome')) === 200, 'the sign-up page opens');
    check((await focused(page)) === 'username', `sign-up (${scheme}): the first field has the focus`);
    check(await page.getByText('At least 8 and at most 72 characters').isVisible(), `sign-up (${scheme}): the password rules are shown before submitting`);
    await inspect(page, 'sign-up', scheme);
    const newcomer = `${username}-${scheme}`;
    await page.getByLabel('Username').fill(newcomer);
    await page.getByLabel('Password').fill(password);
    await submit(page, 'Create account');
    check(path(page) === '/app/welcome', `sign-up (${scheme}) lands on rd without a second password entry (at ${path(page)})`);
    const echoed = JSON.parse(await page.locator('body').innerText());
    const user = echoed.headers.find(([k]) => k.toLowerCase() === 'x-auth-user');
    check(user && user[1] === newcomer, `sign-up (${scheme}): the upstream sees the new user`);
    await ctx.clearCookies();

    // Sign-in: focus on the first field, then on the error after a failed submit.
    check((await go(page, '/auth/login?rd=%2Fapp%2Fhome')) === 200, 'the sign-in page opens');
    check((await focused(page)) === 'username', `sign-in (${scheme}): the first field has the focus`);
    await inspect(page, 'sign-in', scheme);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('not the password');
    await submit(page, 'Sign in');
    check((await focused(page)) === 'form-error', `sign-in (${scheme}): a failed submit moves the focus to the error`);
    await inspect(page, 'sign-in-error', scheme);
    await page.getByLabel('Password').fill(password);
    await submit(page, 'Sign in');
    check(path(page) === '/app/home', `sign-in (${scheme}) lands on rd`);

    // The account page, with sessions on other devices.
    await signInElsewhere(username, password);
    check((await go(page, '/auth/account?rd=%2Fapp%2Fhome')) === 200, 'the account page opens');
    check((await page.locator('.session').count()) >= 3, `account (${scheme}): every session is a card`);
    check((await page.getByText('This device').count()) === 1, `account (${scheme}): this device is marked`);
    check(await page.getByText('Safari on iPhone').isVisible(), `account (${scheme}): devices are named as people know them`);
    check((await page.locator('time[datetime]').count()) > 0, `account (${scheme}): times carry their exact value`);
    check(await page.getByRole('link', { name: /^Back to / }).getAttribute('href') === '/app/home', `account (${scheme}): the way back is where the user came from`);
    await inspect(page, 'account', scheme);

    // A change of password refused: the error in the form, with the focus.
    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(`${NEW_PASSWORD}!`);
    await submit(page, 'Change password');
    check((await focused(page)) === 'form-error', `account (${scheme}): a refused change of password puts the focus on the error`);
    check(await page.getByText('not the same').isVisible(), `account (${scheme}): it says why`);
    await inspect(page, 'account-password-error', scheme);

    // Revoking one other session says so, and keeps the way back.
    const before = await page.locator('.session').count();
    await Promise.all([page.waitForNavigation(), page.locator('.session').nth(1).getByRole('button', { name: /^Revoke/ }).click()]);
    check(await page.getByText('That session is signed out.').isVisible(), `account (${scheme}): revoking says what happened`);
    check((await page.locator('.session').count()) === before - 1, `account (${scheme}): the session is gone`);
    check(new URL(page.url()).searchParams.get('rd') === '/app/home', `account (${scheme}): the way back survives the revoke`);
    await inspect(page, 'account-revoked', scheme);
    await submit(page, 'Sign out everywhere else');
    check(await page.getByText(/^Signed out of \d+ other sessions?\.$/).isVisible(), `account (${scheme}): signing out everywhere else says how many`);
    check((await page.locator('.session').count()) === 1, `account (${scheme}): only this session is left`);

    // Pages the proxy answers a browser with.
    check((await go(page, '/admin/panel')) === 403, 'a route for another group is 403');
    check(await page.getByText(`signed in as ${username}`, { exact: false }).isVisible(), `forbidden (${scheme}): the page names who is signed in`);
    await inspect(page, 'forbidden', scheme);
    check((await go(page, '/nowhere')) === 404, 'an address no route serves is 404');
    await inspect(page, 'not-found', scheme);
    check((await go(page, '/secure/report')) === 200 && new URL(page.url()).pathname === '/auth/mfa', 'a two-factor route sends a one-factor session to the second-factor page');
    await inspect(page, 'mfa', scheme);
    check((await go(page, '/down/x')) === 502, 'an upstream that refuses is 502');
    await inspect(page, 'bad-gateway', scheme);
    check((await go(page, '/app/slow?sleep_ms=3000')) === 504, 'an upstream that outlasts the timeout is 504');
    await inspect(page, 'gateway-timeout', scheme);

    // Sign out says so on the sign-in page.
    check((await go(page, '/auth/account')) === 200, 'back on the account page');
    await submit(page, 'Sign out');
    check(new URL(page.url()).pathname === '/auth/login' && (await page.getByText('You are signed out.').isVisible()), `sign out (${scheme}) says so`);
    await inspect(page, 'signed-out', scheme);
    await ctx.close();
  }

  // Second factors, for a user of their own: setting up an authenticator app from a two_factor
  // page, the recovery codes, the account page with the app on, the second step of a sign-in
  // (and its error, and a recovery code), and step-up of a session made before the app.
  for (const scheme of ['light', 'dark']) {
    const who = `${username}-2fa-${scheme}`;
    const made = await fetch(`${base}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: who, password }),
    });
    if (made.status !== 201) throw new Error(`registering ${who}: ${made.status}`);
    const signIn = async (page, rd) => {
      await go(page, `/auth/login?rd=${encodeURIComponent(rd)}`);
      await page.getByLabel('Username').fill(who);
      await page.getByLabel('Password').fill(password);
      await submit(page, 'Sign in');
    };
    const early = await context(scheme);
    const before = await early.newPage();
    await signIn(before, '/app/home');
    check(path(before) === '/app/home', `second factor (${scheme}): a session from before the app`);

    const ctx = await context(scheme);
    const page = await ctx.newPage();
    await signIn(page, '/secure/report');
    check(path(page) === '/auth/mfa?rd=%2Fsecure%2Freport', `setup (${scheme}): a two_factor page leads a user without a factor to set one up (at ${path(page)})`);
    check((await focused(page)) === 'password', `setup (${scheme}): the password field has the focus`);
    await page.getByLabel('Password').fill(password);
    await submit(page, 'Continue');
    check(await page.getByRole('img', { name: /QR code/ }).isVisible(), `setup (${scheme}): the QR code is shown, inline`);
    check((await focused(page)) === 'code', `setup (${scheme}): the code field has the focus`);
    await inspect(page, 'mfa-enrol-qr', scheme);
    const app = authenticator(await page.locator('#secret').innerText());
    await page.getByLabel('Code from the app').fill(await app.fresh());
    await submit(page, 'Turn on');
    const codes = await page.locator('.codes code').allInnerTexts();
    check(codes.length === 10, `setup (${scheme}): ten recovery codes are shown`);
    await inspect(page, 'mfa-recovery-codes', scheme);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'I have stored them, continue' }).click()]);
    check(path(page) === '/secure/report', `setup (${scheme}): then on to the two_factor page (at ${path(page)})`);

    check((await go(page, '/auth/account')) === 200, 'the account page opens');
    check(await page.getByText('Password and second factor').isVisible(), `account (${scheme}): the session says it has a second factor`);
    check(await page.getByText('10', { exact: true }).isVisible(), `account (${scheme}): ten recovery codes left`);
    await inspect(page, 'account-mfa', scheme);
    await submit(page, 'Sign out');

    // The second step: the field has the focus, a wrong code the error, a recovery code works.
    await signIn(page, '/secure/report');
    check(path(page) === '/auth/login?rd=%2Fsecure%2Freport&step=mfa', `second step (${scheme}): the password leads to the code (at ${path(page)})`);
    check((await focused(page)) === 'code', `second step (${scheme}): the code field has the focus`);
    check((await page.getByLabel('Code').getAttribute('autocomplete')) === 'one-time-code', `second step (${scheme}): the field is for one-time codes`);
    await inspect(page, 'sign-in-mfa', scheme);
    await page.getByLabel('Code').fill(app.wrong());
    await submit(page, 'Sign in');
    check((await focused(page)) === 'form-error', `second step (${scheme}): a wrong code moves the focus to the error`);
    await inspect(page, 'sign-in-mfa-error', scheme);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Use a recovery code' }).click()]);
    await inspect(page, 'sign-in-recovery', scheme);
    await page.getByLabel('Recovery code').fill(codes[0]);
    await submit(page, 'Sign in');
    check(path(page) === '/secure/report', `second step (${scheme}): a recovery code signs in, on to rd (at ${path(page)})`);
    await ctx.close();

    // Step-up: the session from before the app reaches the two_factor page with a code.
    await go(before, '/secure/report');
    check(path(before) === '/auth/mfa?rd=%2Fsecure%2Freport', `step-up (${scheme}): a one-factor session is asked for a code (at ${path(before)})`);
    check((await focused(before)) === 'code', `step-up (${scheme}): the code field has the focus`);
    await inspect(before, 'mfa-step-up', scheme);
    await before.getByLabel('Code').fill(await app.fresh());
    await submit(before, 'Continue');
    check(path(before) === '/secure/report', `step-up (${scheme}): then on to the page (at ${path(before)})`);
    await early.close();
  }

  // The change of password, done: the note, and the new password signs in.
  {
    const ctx = await context('light');
    const page = await ctx.newPage();
    await go(page, '/auth/login?rd=%2Fauth%2Faccount');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await submit(page, 'Sign in');
    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await submit(page, 'Change password');
    check(await page.getByText('Your password is changed').isVisible(), 'a change of password says it is done');
    await submit(page, 'Sign out');
    await go(page, '/auth/login?rd=%2Fauth%2Faccount');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await submit(page, 'Sign in');
    check(new URL(page.url()).pathname === '/auth/account', 'and the new password signs in');
    await ctx.close();
  }

  // Too many failed sign-ins: the page says when to try again, in words.
  for (const scheme of ['light', 'dark']) {
    const ctx = await context(scheme);
    const page = await ctx.newPage();
    let status = 0;
    for (let i = 0; i < 20 && status !== 429; i++) {
      await go(page, '/auth/login');
      await page.getByLabel('Username').fill('mallory');
      await page.getByLabel('Password').fill('guessing wrong');
      const [response] = await Promise.all([
        page.waitForNavigation(),
        page.getByRole('button', { name: 'Sign in', exact: true }).click(),
      ]);
      status = response.status();
    }
    check(status === 429, `rate limit (${scheme}): failed sign-ins are limited`);
    const said = await page.locator('#form-error').innerText();
    check(/try again in \d+ (second|minute)s?/.test(said), `rate limit (${scheme}): the page says when to try again ("${said}")`);
    await inspect(page, 'rate-limited', scheme);
    await ctx.close();
  }
  console.log('ok: every page passes');
} finally {
  await browser.close();
}
