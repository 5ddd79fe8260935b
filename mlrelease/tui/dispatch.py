"""The one action dispatcher: every mutating key and palette command of the TUI ends here.

``request`` → (choose the environment) → the release service's plan, in a worker →
:class:`~mlrelease.tui.screens.plan.PlanModal` → plan again with the reason and check
it is still what the person saw → ``execute`` in a worker with a progress modal → a
notification, or the error modal → reload. The workers post their results as Messages
(:mod:`mlrelease.tui.messages`; the app hands them back here), never touching a widget.

Read-only is enforced here before anything is asked (``--readonly``, reading a
``--ref``), by refusing a plan the service blocked as read-only (``read_only: true`` on
the environment), and once more by the service itself, which is built with the same
flag: no view can reach the service another way.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text

from mlrelease.errors import ExitCode, MlreleaseError, ReadOnly
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.overview import ModelSummary
from mlrelease.release.kinds import KINDS
from mlrelease.release.plan import Plan, PlanChanged, Request, Result
from mlrelease.release.planner import BackendResolver
from mlrelease.release.service import ReleaseService
from mlrelease.tui import messages
from mlrelease.tui.keys import RELEASE_KINDS
from mlrelease.tui.safe import lit, plain
from mlrelease.tui.target import Target

if TYPE_CHECKING:
    from mlrelease.tui.app import MlreleaseApp
    from mlrelease.tui.screens.plan import Decision, PlanModal, ProgressModal


def suggested_environment(kind: str, summary: ModelSummary, version: str | None) -> str | None:
    """Where the cursor starts in the environment list (a convenience; the gates decide)."""
    envs = summary.environments
    if not envs:
        return None
    if kind in ("rollback", "unpin"):
        wanted = [e for e in envs if (e.pinned if kind == "unpin" else e.live is not None)]
        return wanted[-1].environment if wanted else envs[-1].environment
    placed = [i for i, e in enumerate(envs) if version is not None and version in (e.live, e.canary.version if e.canary else None)]
    return envs[min(max(placed) + 1, len(envs) - 1)].environment if placed else envs[0].environment


class Dispatcher:
    def __init__(self, app: MlreleaseApp, resolver: BackendResolver | None = None) -> None:
        self.app = app
        self.resolver = resolver

    def service(self) -> ReleaseService:
        """A service per action: it reads the branch, remote and backends as they are now."""
        return ReleaseService(self.app.session.root, readonly=self.app.readonly, resolver=self.resolver)

    def _readonly_why(self) -> str:
        if self.app.as_of is not None:
            return f"the dashboard shows the past (as of {format_timestamp(self.app.as_of)}; ] returns towards the present)"
        return "the registry is read at a git ref" if self.app.session.ref else "the dashboard was started with --readonly"

    def refuse(self, kind: str, message: str) -> None:
        self.app.record(kind, f"refused: {message}", "refused")
        self.app.notify(plain(message), title=f"{kind} refused", severity="error", markup=False)

    # ---- 1. what, where -------------------------------------------------------------------

    def request(self, kind: str, target: Target | None) -> None:
        if kind not in RELEASE_KINDS:
            raise ValueError(f"unknown release action {kind!r}")
        if self.app.readonly:
            why = self._readonly_why()
            self.refuse(kind, f"read-only: {why}; nothing was changed")
            return
        if kind == "bundle":
            self._choose_bundle()
            return
        if target is None and not KINDS[kind].model_optional:
            self.app.notify("select a model (or a version) first", severity="warning")
            return
        if KINDS[kind].version and target is not None and target.version is None:
            self.app.notify(f"{kind}: select a version (open the model with Enter), or wait for a candidate", severity="warning")
            return
        if target is not None and KINDS[kind].environment and target.environment is None:
            self._choose_environment(kind, target)
            return
        self._plan(kind, target)

    def _choose_environment(self, kind: str, target: Target) -> None:
        from mlrelease.tui.screens.modals import ChoiceModal

        view = self.app.overview
        summary = next((m for m in view.models if m.name == target.model), None) if view else None
        if summary is None:
            self.app.notify("still reading the registry; try again in a moment", severity="warning")
            return
        choices = []
        for env in summary.environments:
            label = Text.assemble(lit(env.environment, "bold"), "  live ", lit(env.live, empty="nothing"))
            if env.canary is not None:
                label.append(f" (+{plain(env.canary.version)}@{env.canary.weight:g}%)")
            if env.pinned:
                label.append("  ⚑ pinned")
            if env.pending:
                label.append("  … pending")
            if env.failed and env.desired:
                label.append(f"  ✗ {plain(env.desired)} failed")
            choices.append((env.environment, label))
        what = f"{plain(target.model)} {plain(target.version)}" if target.version else plain(target.model)
        title = f"{kind} {what}: which environment?"

        def chosen(env: str | None) -> None:
            if env is None:
                self.app.notify(f"{kind} cancelled: nothing changed", timeout=3)
                return
            self._plan(kind, dataclasses.replace(target, environment=env))

        default = suggested_environment(kind, summary, target.version)
        self.app.push_screen(ChoiceModal(title, choices, selected=default), callback=chosen)

    def _choose_bundle(self) -> None:
        """A bundle of mlrelease.yaml, then the environment (the last one first), then its plan."""
        from mlrelease.tui.screens.modals import ChoiceModal

        try:
            with self.app.session.open() as reg:
                config = reg.config
        except MlreleaseError as exc:
            self.refuse("bundle", str(exc))
            return
        if not config.bundles:
            self.app.notify("no bundles in mlrelease.yaml (bundles: {NAME: [MODEL, ...]}, docs/format.md)", severity="warning")
            return
        choices = [(b.name, Text.assemble(lit(b.name, "bold"), "  ", lit(", ".join(b.models)))) for b in config.bundles.values()]
        envs = [(e, lit(e, "bold")) for e in config.environment_names]

        def environment(name: str | None) -> None:
            if name is None:
                self.app.notify("bundle cancelled: nothing changed", timeout=3)
                return

            def chosen(env: str | None) -> None:
                if env is None:
                    self.app.notify("bundle cancelled: nothing changed", timeout=3)
                    return
                self._plan_bundle(name, env)

            title = f"promote bundle {plain(name)}: which environment?"
            self.app.push_screen(ChoiceModal(title, envs, selected=envs[-1][0] if envs else None), callback=chosen)

        self.app.push_screen(ChoiceModal("promote which bundle (each model at its latest version)?", choices), callback=environment)

    def _plan_bundle(self, name: str, environment: str) -> None:
        def work() -> None:
            try:
                plan = self.service().prepare_bundle([], environment, name=name)
            except ReadOnly as exc:
                self.app.post_message(messages.ActionRefused("bundle", str(exc)))
                return
            self.app.post_message(messages.PlanReady(plan))

        self.app.run_worker(work, thread=True, exclusive=True, group="plan", exit_on_error=False, description="planning a bundle")

    def prepared(self, request: Request) -> None:
        """A request a view built whole (a rollout's next step, with its canary weight): plan it and show the plan."""
        if self.app.readonly:
            why = self._readonly_why()
            self.refuse(request.kind, f"read-only: {why}; nothing was changed")
            return
        self._plan_request(request)

    # ---- 2. plan ----------------------------------------------------------------------------

    def _plan(self, kind: str, target: Target | None) -> None:
        self._plan_request(
            Request(kind, target.model if target else None, target.version if target else None, target.environment if target else None)
        )

    def _plan_request(self, request: Request) -> None:
        self.app.run_worker(
            partial(self._plan_work, request),
            thread=True,
            exclusive=True,
            group="plan",
            exit_on_error=False,
            description=f"planning {request.kind}",
        )

    def _plan_work(self, request: Request) -> None:
        """The service's loop, steps 1-2: fetch what others pushed, plan at that tip."""
        try:
            plan = self.service().prepare(request)
        except ReadOnly as exc:  # an action that cannot even be planned where acting is switched off
            self.app.post_message(messages.ActionRefused(request.kind, str(exc)))
            return
        self.app.post_message(messages.PlanReady(plan))

    def show_plan(self, ready: messages.PlanReady) -> None:
        from mlrelease.tui.screens.plan import PlanModal

        plan = ready.plan
        if plan.block is not None and plan.block.exit_code == ExitCode.READ_ONLY:
            self.refuse(plan.request.kind, plan.block.message)
            return
        if ready.changed:
            self.app.notify("the registry changed since this plan was made; here is the plan as it is now", severity="warning")
        if plan.runnable:
            self.app.record(plan.request.kind, f"planned: {plan.title}", "planned")
        elif plan.noop is not None:
            self.app.record(plan.request.kind, f"nothing to do: {plan.noop}", "noop")
        else:
            why = plan.block.message if plan.block else f"{len(plan.failing)} failing gate(s): {', '.join(g.name for g in plan.failing)}"
            self.app.record(plan.request.kind, f"planned, refused: {why}", "refused")
        modal = PlanModal(plan, self._replan, reason=ready.reason)
        self.app.push_screen(modal, callback=lambda decision: self._decided(modal.plan, decision))

    def _replan(self, modal: PlanModal, request: Request) -> None:
        """A changed canary weight or override: plan again under the id the person saw (no fetch)."""

        def work() -> None:
            try:
                plan = self.service().plan(request, action_id=modal.plan.action_id)
            except MlreleaseError as exc:
                modal.post_message(modal.ReplanFailed(str(exc)))
                return
            modal.post_message(modal.Replanned(plan))

        self.app.run_worker(work, thread=True, exclusive=True, group="plan", exit_on_error=False, description="planning again")

    # ---- 3. execute -------------------------------------------------------------------------

    def _decided(self, shown: Plan, decision: Decision | None) -> None:
        from mlrelease.tui.screens.plan import ProgressModal

        kind = shown.request.kind
        if decision is None:
            self.app.record(kind, f"cancelled: {shown.title}", "cancelled")
            self.app.notify(f"{kind} cancelled: nothing changed", timeout=3)
            return
        progress = ProgressModal(shown.title)
        self.app.push_screen(progress)
        self.app.run_worker(
            partial(self._execute_work, shown.with_reason(decision.request.reason), progress),
            thread=True,
            exclusive=True,
            group="action",
            exit_on_error=False,
            description=shown.title,
        )

    def _execute_work(self, plan: Plan, progress: ProgressModal) -> None:
        """The service's loop, steps 4-6: it re-checks at the tip and runs exactly what it re-checked."""
        try:
            result = self.service().execute(plan, progress=lambda p: progress.post_message(progress.Step(p)))
        except PlanChanged as exc:
            self.app.post_message(messages.ActionEnded(progress))
            self.app.post_message(messages.PlanReady(exc.plan, plan.request.reason or "", changed=True))
            return
        except BaseException:
            self.app.post_message(messages.ActionEnded(progress))  # first in the app's queue: gone before the error shows
            raise
        self.app.post_message(messages.ActionEnded(progress))
        self.app.post_message(messages.ActionFinished(result))

    def finished(self, result: Result) -> None:
        kind = result.plan.request.kind
        ok = result.status in ("done", "noop")
        self.app.record(kind, result.message, result.status if ok else "failed")
        for note in result.notes:
            self.app.notify(plain(note), severity="warning", markup=False)
        if ok:
            self.app.notify(plain(result.message), title=f"{kind} done" if result.status == "done" else "nothing to do", markup=False)
        else:
            self.app.show_error(f"{kind}: the backend failed", result.message)
        self.app.load_registry()
