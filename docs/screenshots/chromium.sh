# Sourced by the screenshot scripts: finds a headless-capable Chromium as $CHROMIUM, or stops with what to install.
CHROMIUM=""
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then CHROMIUM="$c"; break; fi
done
[ -n "$CHROMIUM" ] || { echo "$(basename "$0"): needs Chromium (Debian: apt-get install -y chromium)" >&2; exit 1; }
