#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
// element-signin.cjs: Element in a real browser. Headless Debian chromium,
// driven by puppeteer-core, opens https://chat.DOMAIN (every name under
// DOMAIN mapped to 127.0.0.1:PORT, the machine's forwarded 443, with
// --host-resolver-rules; nothing else resolves; the self-signed certificate
// accepted), waits for Element's sign-in form and checks that it names the
// homeserver DOMAIN, signs in, gets past any first-run dialog or toast, opens ROOM
// (to which the user has been invited), accepts the invitation and sends
// MESSAGE. A screenshot of each step goes to SHOTS/NN-step.png. On a failure:
// a screenshot (failed.png), the page's console messages, the failed
// requests and the page's text, then exit 1.
//
//   node element-signin.cjs --domain example.test --port 44321 --user root-admin \
//        --room '!abc:example.test' --message 'hello' --shots DIR [--timeout SECONDS]
//
// The password comes in the environment, ELEMENT_PASSWORD, never in argv.
// CHROMIUM overrides the browser (default /usr/bin/chromium, Debian's).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const puppeteer = require("puppeteer-core");

function parseArgs(argv) {
	const a = { timeout: 600 };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, ""), v = argv[i + 1];
		if (v === undefined) usage(`${argv[i]} needs a value`);
		a[k] = k === "port" || k === "timeout" ? Number(v) : v;
	}
	for (const k of ["domain", "port", "user", "room", "message", "shots"])
		if (!a[k]) usage(`--${k} is missing`);
	return a;
}
function usage(why) {
	console.error(`element-signin: ${why}\nusage: element-signin.cjs --domain D --port P --user U --room ROOM --message TEXT --shots DIR [--timeout S]`);
	process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const password = process.env.ELEMENT_PASSWORD || "";
if (!password) usage("ELEMENT_PASSWORD is not set");
const T = args.timeout * 1000; // per step: Element's bundle is large and the machine is emulated
const D = args.domain;
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const log = (m) => console.log(`element-signin: ${m} (${since()})`);

const consoleLines = [];
const failedRequests = [];
const hsAnswers = []; // the homeserver's answers Element got, "STATUS URL"
let step = 0;
let page, browser, profile;

async function shot(name) {
	step++;
	const file = path.join(args.shots, `${String(step).padStart(2, "0")}-${name}.png`);
	await page.screenshot({ path: file, fullPage: false });
	log(`screenshot ${file}`);
}

async function fail(what, err) {
	console.error(`element-signin: FAILED: ${what}${err ? `: ${err.message || err}` : ""} (${since()})`);
	try {
		if (page) {
			const file = path.join(args.shots, "failed.png");
			await page.screenshot({ path: file, fullPage: true });
			console.error(`element-signin: screenshot of the failure: ${file}`);
		}
	} catch (e) {
		console.error(`element-signin: no screenshot: ${e.message}`);
	}
	console.error(`--- console messages of the page (${consoleLines.length}) ---`);
	for (const l of consoleLines) console.error(l);
	console.error(`--- failed requests (${failedRequests.length}) ---`);
	for (const l of failedRequests) console.error(l);
	console.error(`--- the homeserver's answers (${hsAnswers.length}) ---`);
	for (const l of hsAnswers.slice(-40)) console.error(l);
	try {
		if (page) {
			console.error(`--- the page's text (${page.url().replace(/access_token=[^&]*/, "access_token=…")}) ---`);
			console.error(await page.evaluate(() => document.body ? document.body.innerText : "(no body)"));
		}
	} catch (e) {
		console.error(`(no text: ${e.message})`);
	}
	if (browser) await browser.close().catch(() => {});
	if (profile) fs.rmSync(profile, { recursive: true, force: true });
	process.exit(1);
}

// waitText SELECTOR TEXT: an element matching SELECTOR whose text has TEXT.
function waitText(selector, text, timeout = T) {
	return page.waitForFunction((s, t) => [...document.querySelectorAll(s)].some((e) => e.innerText.includes(t)),
		{ timeout, polling: 500 }, selector, text);
}

// Modal dialogs that stand between a new session and its rooms (none is
// expected on a fresh account with no other session, but releases differ):
// each is dismissed with its cancel button, or Escape.
async function dismissDialogs() {
	for (let i = 0; i < 5; i++) {
		const dialog = await page.$(".mx_Dialog");
		if (!dialog) return;
		const title = await page.evaluate((e) => e.innerText.split("\n")[0], dialog);
		log(`dismissing a dialog: ${JSON.stringify(title)}`);
		const cancel = await page.$(".mx_Dialog_cancelButton, .mx_Dialog button[aria-label='Close']");
		if (cancel) await cancel.click();
		else await page.keyboard.press("Escape");
		await new Promise((r) => setTimeout(r, 1000));
	}
}

// First-run toasts (desktop notifications, secure backup, analytics): not
// modal, but they cover the room list; each is answered with its
// "Dismiss"/"Later"/"Not now" button.
async function dismissToasts() {
	for (let i = 0; i < 5; i++) {
		const which = await page.evaluate(() => {
			const toast = document.querySelector(".mx_Toast_toast");
			if (!toast) return null;
			const b = [...toast.querySelectorAll(".mx_Toast_buttons [role='button'], .mx_Toast_buttons button")]
				.find((e) => /^(Dismiss|Later|Not now|No|Close)$/i.test(e.innerText.trim()));
			if (!b) return null;
			const title = (toast.querySelector(".mx_Toast_title") || toast).innerText.split("\n")[0];
			b.click();
			return `${title} (${b.innerText.trim()})`;
		});
		if (!which) return;
		log(`dismissed a toast: ${JSON.stringify(which)}`);
		await new Promise((r) => setTimeout(r, 1000));
	}
}

async function main() {
	fs.mkdirSync(args.shots, { recursive: true });
	profile = fs.mkdtempSync(path.join(os.tmpdir(), "mkmesh-chromium-"));
	const rules = `MAP ${D} 127.0.0.1:${args.port}, MAP *.${D} 127.0.0.1:${args.port}, MAP * ~NOTFOUND`;
	try {
		browser = await puppeteer.launch({
			executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
			headless: true,
			userDataDir: profile,
			protocolTimeout: T,
			args: [
				`--host-resolver-rules=${rules}`,
				"--ignore-certificate-errors",
				"--no-sandbox", // run as root in the tests
				"--disable-dev-shm-usage",
				"--no-first-run",
				"--window-size=1280,900",
			],
			defaultViewport: { width: 1280, height: 900 },
		});
	} catch (e) {
		await fail("chromium did not start", e);
	}
	log(`${await browser.version()} started`);
	page = await browser.newPage();
	page.setDefaultTimeout(T);
	page.setDefaultNavigationTimeout(T);
	page.on("console", (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
	page.on("pageerror", (e) => consoleLines.push(`[pageerror] ${e.message}`));
	page.on("requestfailed", (r) => failedRequests.push(`${r.failure() ? r.failure().errorText : "?"} ${r.url()}`));
	page.on("response", (r) => {
		if (r.url().startsWith(`https://matrix.${D}/`))
			hsAnswers.push(`${r.status()} ${r.request().method()} ${r.url().replace(/access_token=[^&]*/, "access_token=…")}`);
	});

	// 1. the welcome page
	const url = `https://chat.${D}/`;
	try {
		await page.goto(url, { waitUntil: "load" });
		log(`loaded ${url}`);
		await page.waitForSelector("a.mx_ButtonSignIn, #mx_LoginForm_username", { visible: true });
	} catch (e) {
		await fail(`Element's welcome page at ${url}`, e);
	}
	await shot("welcome");

	// 2. the sign-in form, for this homeserver
	try {
		const signIn = await page.$("a.mx_ButtonSignIn");
		if (signIn) await signIn.click();
		await page.waitForSelector("#mx_LoginForm_username", { visible: true });
		await page.waitForSelector("#mx_LoginForm_password", { visible: true });
		await waitText(".mx_ServerPicker_server", D, 60000);
	} catch (e) {
		await fail(`Element's sign-in form for ${D}`, e);
	}
	const server = await page.$eval(".mx_ServerPicker_server", (e) => e.innerText.trim());
	log(`the sign-in form names the homeserver ${JSON.stringify(server)}`);
	if (server !== D) await fail(`the sign-in form names the homeserver "${server}", not "${D}"`);
	const versions = hsAnswers.filter((l) => l.startsWith("200 ") && l.includes("/_matrix/client/versions"));
	if (!versions.length) await fail(`Element did not ask https://matrix.${D}/_matrix/client/versions`);
	await shot("signin-form");

	// 3. signed in
	try {
		await page.type("#mx_LoginForm_username", args.user);
		await page.type("#mx_LoginForm_password", password);
		await page.click("input.mx_Login_submit");
		log("signing in");
		await page.waitForSelector(".mx_UserMenu, .mx_CompleteSecurity_skip", { visible: true });
		// An account that has signed in before (cross-signing set up by
		// that session) is asked to verify the new one: later.
		const skip = await page.$(".mx_CompleteSecurity_skip");
		if (skip) {
			log("\"Verify this device\": skipped for now");
			await shot("verify-device");
			await skip.click();
			await waitText(".mx_CompleteSecurity_body [role='button']", "verify later", 60000);
			await page.evaluate(() => [...document.querySelectorAll(".mx_CompleteSecurity_body [role='button']")]
				.find((e) => e.innerText.includes("verify later")).click());
		}
		await page.waitForSelector(".mx_LeftPanel, .mx_RoomList", { visible: true });
		await page.waitForSelector(".mx_UserMenu", { visible: true });
	} catch (e) {
		await fail(`signing in as ${args.user}`, e);
	}
	log("signed in");
	await new Promise((r) => setTimeout(r, 3000));
	await dismissDialogs();
	await dismissToasts();
	await shot("signed-in");

	// 4. the room the user is invited to: accept
	try {
		await page.goto(`${url}#/room/${args.room}`, { waitUntil: "load" });
		await dismissDialogs();
		await page.waitForSelector(".mx_RoomPreviewBar_actions .mx_AccessibleButton_kind_primary, .mx_BasicMessageComposer_input", { visible: true });
		await shot("invited");
		const accept = await page.$(".mx_RoomPreviewBar_actions .mx_AccessibleButton_kind_primary");
		if (accept) {
			log(`accepting the invitation: ${JSON.stringify(await page.evaluate((e) => e.innerText, accept))}`);
			await accept.click();
		}
		await page.waitForSelector(".mx_BasicMessageComposer_input[contenteditable='true']", { visible: true });
		await dismissDialogs();
		await dismissToasts();
	} catch (e) {
		await fail(`opening the room ${args.room}`, e);
	}
	log("in the room");
	await shot("room");

	// 5. the message, sent (the timeline shows it, and no longer as "sending")
	try {
		await page.click(".mx_BasicMessageComposer_input");
		await page.keyboard.type(args.message);
		await page.keyboard.press("Enter");
		await waitText(".mx_EventTile:not(.mx_EventTile_sending):not(.mx_EventTile_notSent) .mx_EventTile_body", args.message);
	} catch (e) {
		await fail("sending the message", e);
	}
	log("message sent");
	await shot("sent");
	await browser.close();
	fs.rmSync(profile, { recursive: true, force: true });
}

main().catch((e) => fail("unexpected error", e));
