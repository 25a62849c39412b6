"""Content-Security-Policy: sent on every page, and the pages hold nothing inline that it would block.

The browser tests (test_browser.py) check the same in Chromium: no violation on the dashboard,
the team page, Swagger UI and the browsable API.
"""

import re

import pytest
from django.core.management import call_command

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def inline_code(html: str) -> list[str]:
    """Inline scripts that run (a JSON data block does not), <style> blocks and style="" attributes."""
    scripts = [
        tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag and "application/json" not in tag
    ]
    return scripts + re.findall(r"<style\b[^>]*>", html) + re.findall(r"\sstyle=\"[^\"]*\"", html)


@pytest.mark.parametrize("url", ["/admin/login/", "/api/docs/", "/health/"])
def test_every_page_sends_the_policy(client, db, url):
    response = client.get(url)
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == directives(POLICY)


def test_the_dashboard_and_swagger_ui_hold_nothing_inline(staff_client):
    call_command("seed_demo", "--days", "10", "--no-progress")
    dashboard = staff_client.get("/admin/?range=last-30").content.decode()
    assert 'id="hx-budgets"' in dashboard  # the budget bars: widths are classes, not style=""
    assert re.search(r'<span class="hx-w-\d+"></span>', dashboard)
    docs = staff_client.get("/api/docs/").content.decode()
    assert inline_code(dashboard) == []
    assert inline_code(docs) == []
    script = staff_client.get("/api/docs/?script=")
    assert script["Content-Type"] == "application/javascript"
    assert b"SwaggerUIBundle" in script.content


def test_only_the_browsable_api_allows_inline_styles_and_never_inline_scripts(staff_client):
    response = staff_client.get("/api/v1/teams/", HTTP_ACCEPT="text/html")
    policy = directives(response["Content-Security-Policy"])
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self'"
    assert directives(staff_client.get("/api/v1/teams/")["Content-Security-Policy"])["style-src"] == "'self'"


def test_report_only_mode_sends_the_same_policy_as_report_only(staff_client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None
    login = staff_client.get("/admin/login/")
    assert "Content-Security-Policy" not in login
    assert directives(login["Content-Security-Policy-Report-Only"]) == directives(POLICY)
    browsable = staff_client.get("/api/v1/teams/", HTTP_ACCEPT="text/html")
    assert "Content-Security-Policy" not in browsable
    assert directives(browsable["Content-Security-Policy-Report-Only"])["style-src"] == "'self' 'unsafe-inline'"
