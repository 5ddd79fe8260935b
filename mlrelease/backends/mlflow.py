"""``mlflow``: deploy by pointing an MLflow registry alias at the version, over MLflow's REST API.

Teams that serve from ``models:/<name>@<alias>`` deploy by moving an alias, so a promote
is: make sure the registered model and a version for our manifest exist, then set the
environment's alias to that version. Settings (all optional)::

    backends:
      registry:
        type: mlflow
        tracking_uri: https://mlflow.example.com   # or tracking_uri_env: NAME (default: $MLFLOW_TRACKING_URI)
        token_env: MLFLOW_TRACKING_TOKEN           # bearer token; else MLFLOW_TRACKING_USERNAME/PASSWORD
        model: "{model}"                           # registered model name; may use {model} and {environment}
        alias: "{environment}"                     # alias per environment; may use {environment} and {model}
        aliases: {production: champion}           # explicit aliases per environment (win over the template)
        timeout: 10                                # seconds per HTTP call
        ca_bundle: /etc/ssl/corp-ca.pem            # extra CA for TLS (verification is never turned off)

Finding "our" version (so a second call for the same promotion id, or a later promote of
the same version, never registers it twice): the version tagged ``mlrelease.version =
<version>``; else, for a manifest imported from this registered model (tag
``mlflow:<name>/<n>``), that version ``n`` (tagged now); else a new version is created with
the manifest's artifact URI as source and its metrics and lineage as ``mlrelease.*`` tags.
The MLflow version number is the backend reference.

A canary (``canary_weight``) moves the alias ``<alias>-canary`` and records the weight in
the registered-model tag ``mlrelease.canary_weight.<alias>``; serving reads both. A full
promote or a rollback moves ``<alias>`` and removes the canary alias and its weight.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from mlrelease.backends.base import Action, BackendContext, Health, Outcome
from mlrelease.backends.settings import Settings
from mlrelease.backends.support import one_line
from mlrelease.clients.mlflow import MlflowApi, alias_problem, logged_model_id, model_name_problem, tag_key
from mlrelease.clients.mlflow_connection import Connection, uri_problem
from mlrelease.errors import MlflowError, MlflowOutcomeUnknown, MlreleaseError
from mlrelease.secrets import secret

CANARY_SUFFIX = "-canary"
TAG_VALUE_LIMIT = 5000
VERSION_TAG = "mlrelease.version"
_FIELD = re.compile(r"{([^}]*)}")
# Markers an import leaves in version manifests (see mlrelease.interop.mlflow_import).
MARK_VERSION = "mlflow:"
MARK_RUN = "mlflow-run:"
MARK_MODEL_ID = "mlflow-model-id:"


def _template(s: Settings, key: str, default: str, fields: tuple[str, ...]) -> str:
    text = s.text(key, default=default) or default
    for name in _FIELD.findall(text):
        if name not in fields:
            s.problem(key, f"may only use {', '.join('{' + f + '}' for f in fields)}, not {{{name}}}")
    if any(q in text for q in "'\"`"):
        s.problem(key, "must not contain quotes")
    return text


def _fill(template: str, **values: str) -> str:
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


def imported_marks(tags: tuple[str, ...]) -> dict[str, str]:
    """The MLflow facts an imported manifest carries: registered name, version, run and model ids."""
    out: dict[str, str] = {}
    for tag in tags:
        if tag.startswith(MARK_RUN):
            out["run_id"] = tag[len(MARK_RUN) :]
        elif tag.startswith(MARK_MODEL_ID):
            out["model_id"] = tag[len(MARK_MODEL_ID) :]
        elif tag.startswith(MARK_VERSION):
            name, sep, number = tag[len(MARK_VERSION) :].rpartition("/")
            if sep and name and number.isdigit():
                out["name"], out["version"] = name, number
    return out


class AliasNaming:
    """Which alias stands for an environment: ``aliases`` first, else the ``alias`` template."""

    def __init__(self, settings: Settings, template: str, explicit: Mapping[str, str]) -> None:
        self._settings = settings
        self.template = template
        self.explicit = dict(explicit)

    def alias_for(self, environment: str, model: str = "") -> str:
        """The alias for ``environment``; a reserved or invalid one is a config error naming the key."""
        given = self.explicit.get(environment)
        alias = given if given is not None else _fill(self.template, environment=environment, model=model)
        for candidate in (alias, alias + CANARY_SUFFIX):
            reason = alias_problem(candidate)
            if reason:
                key = f"aliases.{environment}" if given is not None else "alias"
                raise self._settings.error(key, f"{reason} (environment {environment!r}; map it with aliases: {{{environment}: NAME}})")
        return alias


def alias_naming(s: Settings) -> AliasNaming:
    """Read ``alias`` and ``aliases``; explicit aliases MLflow would refuse are problems now, not at promote time."""
    template = _template(s, "alias", "{environment}", ("environment", "model"))
    explicit = s.text_map("aliases")
    for env, alias in explicit.items():
        for candidate in (alias, alias + CANARY_SUFFIX):
            reason = alias_problem(candidate)
            if reason:
                s.problem(f"aliases.{env}", reason)
                break
    return AliasNaming(s, template, explicit)


class MlflowBackend:
    type_name: ClassVar[str] = "mlflow"

    def __init__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> None:
        s = Settings(name, self.type_name, settings)
        self.name = name
        self.context = context
        uri = s.text("tracking_uri")
        uri_env = s.env_name("tracking_uri_env")
        if uri and uri_env:
            s.problem("tracking_uri_env", "give tracking_uri or tracking_uri_env, not both")
        token_env = s.env_name("token_env")
        self.model_template = _template(s, "model", "{model}", ("model", "environment"))
        self.naming = alias_naming(s)
        timeout = s.seconds("timeout", default=10.0, maximum=300.0)
        ca_bundle = s.text("ca_bundle")
        reason = uri_problem(uri) if uri else None  # known from the settings alone, so lint says it too
        if reason:
            s.problem("tracking_uri", reason)
        s.done()
        environ = context.environ
        chosen = uri or environ.get(uri_env or "MLFLOW_TRACKING_URI")
        if not chosen:
            key = "tracking_uri_env" if uri_env else "tracking_uri"
            raise s.error(key, f"no tracking URI: set tracking_uri, or the environment variable {uri_env or 'MLFLOW_TRACKING_URI'}")
        reason = uri_problem(chosen)
        if reason:
            raise s.error("tracking_uri", reason)
        what = f"backend {name}"
        try:
            token = secret(token_env or "MLFLOW_TRACKING_TOKEN", what=what, required=token_env is not None, environ=environ)
        except MlreleaseError as exc:
            raise s.error("token_env", str(exc)) from None
        self.conn = Connection(
            uri=chosen.rstrip("/"),
            token=token,
            username=environ.get("MLFLOW_TRACKING_USERNAME") or None,
            password=secret("MLFLOW_TRACKING_PASSWORD", what=what, required=False, environ=environ),
            timeout=timeout,
            ca_bundle=ca_bundle,
        )
        reason = self.conn.problem()
        if reason:
            raise s.error("tracking_uri", reason)
        self._settings = s
        self._check_environments()

    # ---- naming ---------------------------------------------------------------------------

    def registered_name(self, model: str, environment: str | None) -> str:
        name = _fill(self.model_template, model=model, environment=environment or "")
        reason = model_name_problem(name)
        if reason:
            raise self._settings.error("model", reason)
        return name

    def alias_for(self, environment: str, model: str = "") -> str:
        return self.naming.alias_for(environment, model)

    def _check_environments(self) -> None:
        """Refuse, when the backend is created, an alias MLflow would refuse at promote time."""
        from mlrelease.registry.loader import Registry

        try:
            with Registry(self.context.registry_root) as reg:
                envs = [e.name for e in reg.config.environments if e.backend == self.name]
        except MlreleaseError:
            return  # no readable config here: the same check runs again at promote time
        for env in envs:
            if "{model}" not in self.naming.template or env in self.naming.explicit:
                self.alias_for(env)

    # ---- the protocol ---------------------------------------------------------------------

    def execute(self, action: Action) -> Outcome:
        """Find or register our version, then move the alias; the outcome says what MLflow holds.

        A failure before the alias move changed nothing that serves: Failed. Once the move
        is answered, the promotion happened, whatever the clean-up after it (the canary
        alias and weight) says: Succeeded, the clean-up's failure in the message. A move
        whose answer never came may have been applied: the alias is read back, and when
        even that cannot be done the outcome is unknown — :class:`~mlrelease.errors.MlflowOutcomeUnknown` is
        raised, the service leaves the state Pending, and ``reconcile`` asks :meth:`status`.
        """
        if action.kind not in ("promote", "rollback") or not action.version or not action.environment:
            return Outcome(ok=False, message=f"the mlflow backend moves aliases for promote and rollback; it cannot {action.kind}")
        name = self.registered_name(action.model, action.environment)
        alias = self.alias_for(action.environment, action.model)
        canary = action.kind == "promote" and action.canary_weight is not None
        moving = alias + CANARY_SUFFIX if canary else alias
        with MlflowApi(self.conn) as api:
            try:
                number = self._version_for(api, name, action, create=True)
                assert number is not None
            except MlflowError as exc:
                return Outcome(ok=False, message=one_line(str(exc)))
            try:
                api.set_alias(name, moving, number)
            except MlflowError as exc:
                if exc.status or not exc.sent:  # MLflow said no, or never heard us: nothing moved
                    return Outcome(ok=False, message=one_line(str(exc)))
                return self._lost_answer(api, name, moving, number, exc)
            after = ""
            try:
                if canary:
                    api.set_model_tag(name, f"mlrelease.canary_weight.{alias}", f"{action.canary_weight:g}")
                else:
                    api.delete_alias(name, alias + CANARY_SUFFIX)
                    api.delete_model_tag(name, f"mlrelease.canary_weight.{alias}")
            except MlflowError as exc:
                after = f"; the clean-up after the move failed: {exc}"
        moved = f"alias {moving!r}" + (f" ({action.canary_weight:g}%)" if canary else "")
        return Outcome(
            ok=True, reference=number, message=one_line(f"{moved} of {name!r} now points at version {number} ({action.version}){after}")
        )

    def _lost_answer(self, api: MlflowApi, name: str, alias: str, number: str, sent: MlflowError) -> Outcome:
        """The alias move was sent and no answer came: read the alias back to tell what happened."""
        try:
            current = api.alias(name, alias)
        except MlflowError as exc:
            raise MlflowOutcomeUnknown(
                one_line(f"{sent}; the alias move may have been applied and {alias!r} cannot be read back ({exc}): outcome unknown")
            ) from None
        if current == number:
            return Outcome(
                ok=True,
                reference=number,
                message=one_line(f"alias {alias!r} of {name!r} points at version {number} (the answer to the move was lost)"),
            )
        return Outcome(ok=False, message=one_line(f"{sent}; alias {alias!r} of {name!r} still points at {current or 'nothing'}"))

    def status(self, action: Action) -> Outcome | None:
        if action.kind not in ("promote", "rollback") or not action.version or not action.environment:
            return None
        name = self.registered_name(action.model, action.environment)
        alias = self.alias_for(action.environment, action.model)
        if action.kind == "promote" and action.canary_weight is not None:
            alias += CANARY_SUFFIX
        try:
            with MlflowApi(self.conn) as api:
                number = self._version_for(api, name, action, create=False)
                if number is None:
                    return Outcome(
                        ok=False, message=one_line(f"{name!r} has no version for {action.version}: the promotion did not happen")
                    )
                current = api.alias(name, alias)
        except MlflowError:
            return None  # cannot tell: reconcile leaves the state Pending
        if current == number:
            return Outcome(ok=True, reference=number, message=one_line(f"alias {alias!r} of {name!r} points at version {number}"))
        return Outcome(ok=False, message=one_line(f"alias {alias!r} of {name!r} points at {current or 'nothing'}, not version {number}"))

    def health(self) -> Health:
        try:
            with MlflowApi(self.conn) as api:
                api.ping()
                label = api.label
        except MlflowError as exc:
            return Health(False, one_line(str(exc)))
        return Health(True, one_line(f"MLflow at {label} answers the registry API"))

    def describe(self, action: Action) -> str:
        if not action.environment or not action.version:
            return f"mlflow: nothing to do for {action.kind}"
        name = self.registered_name(action.model, action.environment)
        alias = self.alias_for(action.environment, action.model)
        if action.kind == "promote" and action.canary_weight is not None:
            move = f"point alias {alias + CANARY_SUFFIX!r} at it ({action.canary_weight:g}% canary)"
        else:
            move = f"point alias {alias!r} at it and remove {alias + CANARY_SUFFIX!r}"
        source = f"created from {action.artifact}" if action.artifact else "created from the manifest's artifact"
        return one_line(
            f"mlflow at {MlflowApi(self.conn).label}: registered model {name!r}: find the version tagged "
            f"{VERSION_TAG}={action.version} ({source} if missing), then {move}"
        )

    # ---- versions --------------------------------------------------------------------------

    def _manifest(self, action: Action) -> Any:
        """The version manifest, for lineage and import marks; None when it cannot be read."""
        from mlrelease.registry.loader import Registry

        assert action.version is not None
        try:
            with Registry(self.context.registry_root) as reg:
                return reg.version(action.model, action.version)
        except MlreleaseError:
            return None

    def _version_for(self, api: MlflowApi, name: str, action: Action, *, create: bool) -> str | None:
        """MLflow's version number for ``action.version``: found, adopted from an import, or created."""
        assert action.version is not None
        found = api.versions(name, tag=(VERSION_TAG, action.version))
        if found:
            return str(found[0]["version"])
        manifest = self._manifest(action)
        marks = imported_marks(manifest.tags) if manifest is not None else {}
        if marks.get("name") == name and marks.get("version"):
            existing = api.version(name, marks["version"])
            if existing:
                if create:
                    api.set_version_tag(name, marks["version"], VERSION_TAG, action.version)
                return marks["version"]
        if not create:
            return None
        source = action.artifact or (manifest.artifact.uri if manifest is not None else None)
        if not source:
            raise MlflowError(f"{action.model} {action.version} has no artifact URI to register in MLflow")
        run_id = marks.get("run_id") or _run_of(source)
        created = api.create_registered_model(name)
        try:
            mv = api.create_version(
                name,
                source,
                tags=self._tags(action, manifest),
                description=getattr(manifest, "description", None),
                run_id=run_id,
                model_id=marks.get("model_id") or logged_model_id(source),  # MLflow wants it with a models:/m-… source
            )
        except MlflowError:
            if created:  # leave no empty registered model behind (an import would take it for a model)
                with contextlib.suppress(MlflowError):
                    api.delete_registered_model(name)
            raise
        if mv.get("status") == "FAILED_REGISTRATION":
            raise MlflowError(
                f"MLflow could not register {name!r} version {mv.get('version')}: {mv.get('status_message') or 'FAILED_REGISTRATION'}"
            )
        return str(mv["version"])

    def _tags(self, action: Action, manifest: Any) -> dict[str, str]:
        """Our facts about the version, as MLflow tags: identity, metrics and lineage."""
        assert action.version is not None
        tags: dict[str, str | None] = {
            VERSION_TAG: action.version,
            "mlrelease.model": action.model,
            "mlrelease.promotion_id": action.promotion_id,
            "mlrelease.artifact.sha256": action.artifact_sha256,
            "mlrelease.image": action.image,
            "mlrelease.image.digest": action.image_digest,
        }
        metrics = dict(action.metrics)
        if manifest is not None:
            metrics = {**manifest.metrics, **metrics}
            tags["mlrelease.author"] = manifest.author
            tags["mlrelease.parent"] = manifest.parent
            if manifest.code is not None:
                tags["mlrelease.code.repo"] = manifest.code.repo
                tags["mlrelease.code.commit"] = manifest.code.commit
                tags["mlrelease.code.entrypoint"] = manifest.code.entrypoint
            for role, ref in manifest.data.items():
                tags[tag_key(f"mlrelease.data.{role}")] = f"{ref.dataset}@{ref.version}"
        for metric, value in metrics.items():
            tags[tag_key(f"mlrelease.metric.{metric}")] = str(value)
        return {k: str(v)[:TAG_VALUE_LIMIT] for k, v in tags.items() if v not in (None, "")}


def _run_of(source: str) -> str | None:
    """The run id of a ``runs:/<id>/...`` source, which MLflow wants repeated as ``run_id``."""
    m = re.match(r"runs:/([0-9a-zA-Z]+)(/|$)", source)
    return m.group(1) if m else None


def factory(name: str, settings: Mapping[str, object], context: BackendContext) -> MlflowBackend:
    return MlflowBackend(name, settings, context)
