"""The shipper's libraries stay out of the API's cold start: importing the app (as Lambda does for /predict)
loads neither search client nor boto3; the shipper imports them when it first ships, and only its backend's client
(an Elasticsearch deployment never imports opensearch-py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

CODE = """
import json, sys
sys.path.insert(0, 'chalice_app')
import app
watched = {'elasticsearch', 'elastic_transport', 'boto3', 'opensearchpy'}
loaded = lambda: sorted({m.split('.')[0] for m in sys.modules} & watched)
before = loaded()
app.shipper.create_client(app.shipper.ShipperSettings(es_url='http://127.0.0.1:9'))
print(json.dumps([before, loaded()]))
"""


def test_importing_the_app_does_not_load_the_shippers_libraries() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, check=True)
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == []
    assert after == ["elastic_transport", "elasticsearch"]  # boto3 only when a secret is configured
