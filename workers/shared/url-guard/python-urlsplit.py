"""Records what Python's urllib.parse.urlsplit makes of each URL of the corpus (parser-differential.test.ts).

Not run in CI: run it again when the corpus changes, from the repository root:
  npx node -e 'import("./workers/shared/url-guard/corpus.ts").then((m) => console.log(JSON.stringify([...m.HOSTILE, ...m.ALLOWED].map((c) => c.url))))' \
    | python3 workers/shared/url-guard/python-urlsplit.py > workers/shared/url-guard/python-urlsplit.json
"""
import json
import sys
from urllib.parse import urlsplit


def record(url):
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return {"url": url, "error": str(error)}
    try:
        port = parts.port
    except ValueError:
        port = "invalid"
    return {"url": url, "scheme": parts.scheme, "netloc": parts.netloc, "hostname": parts.hostname, "port": port}


urls = json.load(sys.stdin)
seen = set()
cases = []
for url in urls:
    if url in seen:
        continue
    seen.add(url)
    cases.append(record(url))
version = ".".join(str(part) for part in sys.version_info[:3])
sys.stdout.write('{"python": "%s", "cases": [\n  ' % version)
sys.stdout.write(",\n  ".join(json.dumps(case, ensure_ascii=True) for case in cases))
sys.stdout.write("\n]}\n")
