"""The console works under the service's own Content-Security-Policy (self only, no inline script
or style), as a real browser enforces it. The other console tests inject axe-core and so bypass
the policy; this one does not, and fails on any violation the page reports."""

from __future__ import annotations

from typing import Any

from browser_support import VIEWPORT, login
from console_support import PASSWORDS

from cti.sip.memory import MemoryPhoneNetwork

WATCH_VIOLATIONS = """() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
}"""


async def test_every_screen_runs_under_the_enforced_policy(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork]
) -> None:
    server, _ = console
    base = str(server.make_url("")).rstrip("/")
    for user, screens in (("alice", ("desk",)),
                          ("admin", ("floor", "records", "library", "admin"))):
        context = await browser.new_context(viewport=VIEWPORT, locale="ja-JP")  # CSP enforced
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: errors.append(m.text)
                if "Content Security Policy" in m.text else None)
        await page.add_init_script(f"({WATCH_VIOLATIONS})()")
        await login(page, base, user, PASSWORDS[user])
        for name in screens:
            await page.click(f"#tab-{name}")
            await page.wait_for_selector(f"#{name}-view:not([hidden])", timeout=10_000)
        header = (await page.request.get(f"{base}/")).headers["content-security-policy"]
        assert "script-src 'self'" in header and "unsafe-inline" not in header
        violations = await page.evaluate("window.__cspViolations")
        assert violations == [] and errors == [], (user, violations, errors)
        await context.close()
