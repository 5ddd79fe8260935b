"""``http-json``: GET a JSON document of snapshots from a monitoring service.

Settings (in ``environments[].telemetry`` of mlrelease.yaml)::

    type: http-json
    url: https://monitoring.internal/api/models/{model}/telemetry?env={env}
    timeout: 5              # seconds; every wait is bounded by it (default 5)
    token_env: MONITOR_TOKEN  # optional: sent as "Authorization: Bearer <value>"
    ca_bundle: /etc/ssl/internal-ca.pem  # optional: extra CA; TLS is always verified

``{model}`` and ``{env}`` in the URL are replaced by the URL-quoted names. The answer is
the same data as a telemetry file, in JSON, in any of three shapes:

* a document ``{"model": ..., "environment": ..., "snapshots": [snapshot, ...]}`` (model and
  environment optional; when given they must match what was asked);
* a list of snapshots ``[snapshot, ...]``;
* one snapshot ``{"at": ..., "calls": ...}``.

A snapshot has the fields of ``telemetry/<env>/<model>.yaml``: ``at`` (ISO 8601 with a
zone, required), ``version``, ``calls``, ``errors``, ``latency_ms`` ({p50, p95, p99}),
``memory_mb``, ``cpu``, ``metrics`` ({name: value}), ``callers`` ({application: calls})
and ``profile`` ({rows, features: {name: {type, edges, fractions}}}). HTTP 404 means
"no figures for this model"; any other failure is a source error with one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

from mlrelease.errors import ManifestError, SourceError
from mlrelease.registry.fields import as_tree
from mlrelease.registry.parse import parse_telemetry
from mlrelease.registry.types import Telemetry
from mlrelease.registry.yamlsafe import YMap
from mlrelease.telemetry.base import SourceContext
from mlrelease.telemetry.httpclient import HttpSource


class HttpJsonSource(HttpSource):
    type_name: ClassVar[str] = "http-json"

    def url_for(self, model: str, environment: str) -> str:
        return self.url.replace("{model}", quote(model, safe="")).replace("{env}", quote(environment, safe=""))

    def fetch(self, model: str, environment: str, *, history: bool) -> Telemetry | None:
        url = self.url_for(model, environment)
        data = self.http.get_json(url, missing_ok=True)
        if data is None:
            return None
        telemetry = self._parse(data, model, environment, url)
        ordered = tuple(sorted(telemetry.snapshots, key=lambda s: s.at))
        return Telemetry(model, environment, ordered if history else ordered[-1:])

    def _parse(self, data: object, model: str, environment: str, url: str) -> Telemetry:
        tree = as_tree(data, 1)
        if isinstance(tree, YMap) and "snapshots" in tree:
            for key, expected in (("model", model), ("environment", environment)):
                if key in tree and tree[key] != expected:
                    raise SourceError(f"{self.http.label}: the answer is for {key} {tree[key]!r}, not {expected!r}")
            document = tree
        else:
            document = YMap(1)
            document["snapshots"] = as_tree(data if isinstance(data, list) else [data], 1)
        document["model"] = model
        document["environment"] = environment
        try:
            return parse_telemetry(document, self.url)
        except ManifestError as exc:
            first = exc.problems[0].message
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            raise SourceError(f"{self.http.label}: the answer is not telemetry: {first}{more}") from None

    def describe(self) -> str:
        return f"GET {self.url}"

    def close(self) -> None:
        self.http.close()


def factory(name: str, settings: Mapping[str, object], context: SourceContext) -> HttpJsonSource:
    return HttpJsonSource(name, settings, context)
