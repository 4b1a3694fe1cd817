"""Exit non-zero unless the JUnit report shows browser tests that ran, none skipped."""

import sys
import xml.etree.ElementTree as ET

cases = [
    case
    for case in ET.parse(sys.argv[1]).getroot().iter("testcase")  # noqa: S314
    if case.get("classname", "").startswith("tests.browser.")
]
skipped = [case for case in cases if case.find("skipped") is not None]
if not cases:
    sys.exit("FAIL: no browser test was collected.")
if skipped:
    sys.exit(f"FAIL: {len(skipped)} of {len(cases)} browser tests were skipped; they must run in CI.")
print(f"{len(cases)} browser tests ran.")
