// A real browser through gatehouse: open a protected page, land on sign-in, sign in, arrive at
// the page; a second browser context signs in, opens the account page and signs out everywhere
// else; the first context's next navigation lands on sign-in.
//
//   node tests/browser/flow.mjs http://127.0.0.1:PORT USERNAME PASSWORD
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: flow.mjs BASE_URL USERNAME PASSWORD');
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function signIn(page) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const first = await browser.newContext();
  const a = await first.newPage();
  await a.goto(`${base}/app/dashboard?tab=2`);
  check(new URL(a.url()).pathname === '/auth/login', 'a protected page sends the browser to sign-in');
  check(new URL(a.url()).searchParams.get('rd') === '/app/dashboard?tab=2', 'the sign-in page remembers where to return');
  await signIn(a);
  const landed = new URL(a.url());
  check(landed.pathname === '/app/dashboard' && landed.search === '?tab=2', 'signing in lands on the page asked for');
  const echoed = JSON.parse(await a.locator('body').innerText());
  const user = echoed.headers.find(([k]) => k.toLowerCase() === 'x-auth-user');
  check(user && user[1] === username, 'the upstream sees who signed in');

  const second = await browser.newContext();
  const b = await second.newPage();
  await b.goto(`${base}/auth/account`);
  check(new URL(b.url()).pathname === '/auth/login', 'the account page needs a session');
  await signIn(b);
  check(new URL(b.url()).pathname === '/auth/account', 'signing in returns to the account page');
  check((await b.getByText('This device', { exact: true }).count()) === 1, 'the account page marks this device');
  check((await b.locator('.session').count()) === 2, 'both sessions are listed');
  await Promise.all([b.waitForNavigation(), b.getByRole('button', { name: 'Sign out everywhere else' }).click()]);
  check(new URL(b.url()).pathname === '/auth/account', 'signing out elsewhere stays on the account page');
  check((await b.locator('.session').count()) === 1, 'only this session is left');

  await a.goto(`${base}/app/dashboard`);
  check(new URL(a.url()).pathname === '/auth/login', "the first browser's next navigation lands on sign-in");

  await Promise.all([b.waitForNavigation(), b.getByRole('button', { name: 'Sign out', exact: true }).click()]);
  check(new URL(b.url()).pathname === '/auth/login', 'signing out lands on sign-in');
  await b.goto(`${base}/auth/account`);
  check(new URL(b.url()).pathname === '/auth/login', 'and the session is gone');
} finally {
  await browser.close();
}
