"""The alert rules (deploy/prometheus/alerts.yml) are valid, name metrics the portal serves, and
agree with the runbook: every alert links to its own section of docs/runbook.md, and every alert
the runbook describes is a rule.

The file's shape is checked here with PyYAML, always; `promtool` (Debian's `prometheus` package)
checks the rules, the scrape configuration and the rules' unit tests (alerts_test.yml) when it is
installed, on PATH or at $PROMTOOL.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import METRICS_TOKEN

DEPLOY = Path(settings.BASE_DIR) / "deploy" / "prometheus"
RULES = DEPLOY / "alerts.yml"
RUNBOOK = Path(settings.BASE_DIR) / "docs" / "runbook.md"
SEVERITIES = {"page", "ticket"}
DURATION = re.compile(r"^\d+[smhdwy]$")


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    found = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"}, group.get("name")
        assert group["rules"], group["name"]
        found += group["rules"]
    return found


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_alert_sections() -> set[str]:
    """The headings under "## Alerts" in the runbook."""
    text = RUNBOOK.read_text()
    alerts = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^### (.+)$", alerts, flags=re.MULTILINE))


def test_every_rule_is_a_well_formed_alert():
    found = rules()
    assert len(found) >= 10  # else the checks below would pass on nothing
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)), "two rules share a name"
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert "statstak_" in rule["expr"] or rule["expr"].startswith("up{"), rule["alert"]
        assert DURATION.match(rule.get("for", "0m")), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]


def test_every_alert_links_to_its_own_runbook_section_and_every_section_is_an_alert():
    sections = runbook_alert_sections()
    anchors = {github_anchor(section) for section in sections}
    alerts = {rule["alert"] for rule in rules()}
    for rule in rules():
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/runbook.md#{rule['alert'].lower()}", url
        assert url.split("#")[1] in anchors, f"{rule['alert']}: no section {url} in docs/runbook.md"
    assert sections == alerts, f"runbook only: {sections - alerts}; rules only: {alerts - sections}"
    for section in sections:  # and each says what it means and what to do
        body = RUNBOOK.read_text().split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
        assert "**Means**" in body and ("**Do**" in body or "**Look / do**" in body), section


def served_metric_names(client) -> set[str]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    names = set()
    for family in text_string_to_metric_families(response.content.decode()):
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        elif family.type == "counter":
            names |= {family.name, f"{family.name}_total"}
        else:
            names.add(family.name)
    return names


@pytest.mark.django_db
def test_the_rules_name_only_metrics_the_portal_serves(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    served = served_metric_names(client)
    used = set()
    for rule in rules():
        used |= set(re.findall(r"\bstatstak_[a-z0-9_]+", rule["expr"]))
    assert used  # else the check below would pass on nothing
    assert used <= served, f"not served: {used - served}"


def promtool() -> str:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found and os.environ.get("CI") == "true":
        pytest.fail("promtool is not installed: CI unpacks it from Debian's prometheus package (.ci/run)")
    if not found:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus); the YAML checks above ran")
    return found


def test_promtool_accepts_the_rules_and_their_unit_tests():
    tool = promtool()
    checked = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)  # noqa: S603
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(  # noqa: S603  (promtool, on our own files)
        [tool, "test", "rules", "alerts_test.yml"], cwd=DEPLOY, capture_output=True, text=True, timeout=120
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_accepts_the_scrape_configuration(tmp_path):
    tool = promtool()
    # Its token file, where Prometheus' would be.
    token = tmp_path / "statstak-metrics-token"
    token.write_text(METRICS_TOKEN)
    config = (DEPLOY / "prometheus.yml").read_text().replace("/etc/prometheus/statstak-metrics-token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(RULES, tmp_path / "alerts.yml")
    checked = subprocess.run(  # noqa: S603  (promtool, on our own files)
        [tool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
