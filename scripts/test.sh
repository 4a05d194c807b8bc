#!/bin/sh
# One command for a fresh Debian 12 machine (as root): install dependencies, build, and
# run every test (unit and protocol) twice: a normal build, and a build with
# AddressSanitizer and UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
status=0
for variant in build build-asan; do
	if [ ! -f "$variant/build.ninja" ]; then
		if [ "$variant" = build-asan ]; then
			meson setup "$variant" -Dsanitize=true -Dbuildtype=debug >/dev/null
		else
			meson setup "$variant" >/dev/null
		fi
	fi
	ninja -C "$variant"
	echo "== tests: $variant"
	meson test -C "$variant" --print-errorlogs --num-processes 2 || status=1
done
# One closing line over both builds, counted from meson's test logs.
/usr/bin/python3 - <<'PY'
import json
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for variant in ("build", "build-asan"):
    try:
        for line in open(variant + "/meson-logs/testlog.json"):
            r = json.loads(line)["result"]
            counts["OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"] += 1
    except OSError:
        counts["FAIL"] += 1
print("tests: %d passed, %d failed, %d skipped" % (counts["OK"], counts["FAIL"], counts["SKIP"]))
PY
exit $status
