#!/usr/bin/env python3
"""Drives headless Chromium (Debian `chromium`) through syncd's status page over the DevTools
protocol and prints what it found as JSON, for the end-to-end test to judge:
  - the page without a session sends the browser to the sign-in form;
  - a wrong token is refused (the form again, with an error, and no session cookie);
  - the right token signs in: the gate banner's text, one row per source, one SVG per row;
  - the source page's differences, the hostile key's text and whether any <script> exists;
  - the session cookie's flags; a screenshot of the overview.
Usage: ui-browser-check.py BASE_URL TOKEN SOURCE SCREENSHOT [--spki HASH]
  (--spki: the server certificate's SPKI SHA-256, base64, trusted for this run only)"""
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("ui-browser-check: chromium is not installed (integration/install-deps.sh installs it)")


class Page:
    def __init__(self, socket):
        self.socket, self.next_id, self.events = socket, 0, []

    async def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        await self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    async def wait_event(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self.events):
                if event.get("method") == name:
                    del self.events[index]
                    return event
            try:
                message = json.loads(await asyncio.wait_for(self.socket.recv(), max(0.1, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                break
            self.events.append(message)
        raise RuntimeError(f"no {name} within {timeout} s")

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def load(self, action):
        """Runs `action` (a navigation or a form submit) and waits for the new page to load."""
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        await action()
        await self.wait_event("Page.loadEventFired")


async def session_cookie(page, base):
    """The browser's syncd session cookie for `base`, or None."""
    cookies = (await page.call("Network.getCookies", urls=[base + "/"]))["cookies"]
    return next((c for c in cookies if c["name"] == "syncd_session"), None)


async def run(base, token, source, screenshot, spki):
    profile = tempfile.mkdtemp(prefix="syncd-chromium-")
    arguments = [chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
                 "--window-size=1280,900", "about:blank"]
    if spki:
        arguments.insert(1, f"--ignore-certificate-errors-spki-list={spki}")
    browser = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        target = next(t for t in targets if t.get("type") == "page")
        found = {}
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024) as socket:
            page = Page(socket)
            for domain in ("Page", "Runtime", "Network"):
                await page.call(f"{domain}.enable")
            await page.load(lambda: page.call("Page.navigate", url=base + "/"))
            found["unsigned_path"] = await page.evaluate("location.pathname")

            async def submit(value):
                await page.evaluate(f"document.querySelector('#token').value = {json.dumps(value)}")
                await page.load(lambda: page.evaluate("document.querySelector('form.login').requestSubmit()"))

            await submit("not-the-token-0123456789")
            found["wrong_token_path"] = await page.evaluate("location.pathname")
            found["wrong_token_error"] = await page.evaluate("document.querySelector('#login-error')?.textContent ?? null")
            found["cookie_after_wrong_token"] = await session_cookie(page, base) is not None

            await submit(token)
            found["signed_in_path"] = await page.evaluate("location.pathname")
            found["gate_text"] = await page.evaluate("document.querySelector('#gate')?.innerText ?? null")
            found["gate_state"] = await page.evaluate("document.querySelector('#gate')?.dataset.gate ?? null")
            found["summary"] = await page.evaluate("document.querySelector('#summary')?.innerText ?? null")
            found["rows"] = await page.evaluate("[...document.querySelectorAll('#sources tbody tr.source')].map(r => r.dataset.source)")
            found["svgs_per_row"] = await page.evaluate("[...document.querySelectorAll('#sources tbody tr.source')].map(r => r.querySelectorAll('svg').length)")
            found["scripts"] = await page.evaluate("document.querySelectorAll('script').length")
            shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            with open(screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
            session = await session_cookie(page, base)
            found["cookie"] = session and {k: session.get(k) for k in ("httpOnly", "sameSite", "secure", "path")}
            found["cookie_readable_by_script"] = await page.evaluate("document.cookie.includes('syncd_session')")

            await page.load(lambda: page.call("Page.navigate", url=f"{base}/ui/sources/{source}"))
            found["source_title"] = await page.evaluate("document.querySelector('h1')?.innerText ?? null")
            found["diff_keys"] = await page.evaluate("[...document.querySelectorAll('#diffs td.key')].map(td => td.textContent)")
            found["source_scripts"] = await page.evaluate("document.querySelectorAll('script').length")
            found["charts"] = await page.evaluate("[...document.querySelectorAll('svg.chart title')].map(t => t.textContent)")
            found["chart_labels"] = await page.evaluate("[...document.querySelectorAll('svg.chart text')].map(t => t.textContent)")
            found["journal_rows"] = await page.evaluate("document.querySelectorAll('#journal tbody tr').length")
            found["alert_dialogs"] = sum(1 for e in page.events if e.get("method") == "Page.javascriptDialogOpening")

            await page.load(lambda: page.evaluate("document.querySelector('form.signout').requestSubmit()"))
            found["signed_out_path"] = await page.evaluate("location.pathname")
            found["cookie_after_sign_out"] = await session_cookie(page, base) is not None
        print(json.dumps(found))
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    spki = None
    if "--spki" in args:
        index = args.index("--spki")
        spki = args[index + 1]
        del args[index:index + 2]
    if len(args) != 4:
        sys.exit(__doc__)
    asyncio.run(asyncio.wait_for(run(*args, spki), 120))
