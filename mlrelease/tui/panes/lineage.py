"""Lineage (3) of the selected version: data, code, parent chain, where it runs, who calls it, children."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from mlrelease.registry.lineage import ConsumerLink, Lineage
from mlrelease.tui.modeldata import ModelData, load_lineage
from mlrelease.tui.panes.base import Pane
from mlrelease.tui.safe import join, lit, when


def consumer_label(link: ConsumerLink, running: tuple[str, ...]) -> Text:
    """Whether a consuming application calls *this* version, and in which environments.

    A consumer lists the environments it calls; it calls this version only where this
    version runs, so "in staging, production" is said only of what is true.
    """
    c = link.consumer
    calls = [e for e in c.environments if e in running]
    label = lit(c.name, "bold")
    if link.affected and calls:
        label.append_text(join(Text(" calls this version in", style="dim"), lit(", ".join(calls))))
    elif link.affected:
        label.append_text(Text(" calls this version", style="dim"))
    else:
        label.append_text(Text(" not on this version", style="dim"))
    others = [e for e in c.environments if e not in calls]
    if others:
        label.append_text(
            join(Text(f" · {'also ' if calls else ''}calls", style="dim"), lit(", ".join(others)), Text("on another version", style="dim"))
        )
    if c.contact:
        label.append_text(join(Text(" · contact", style="dim"), lit(c.contact)))
    return label


class FitTree(Tree[None]):
    """A tree whose long lines end in "…" at its width, instead of scrolling sideways.

    At 80 columns a data set's URI or a parent's e-mail made the tree wider than the
    screen: a horizontal scrollbar under it, and every long line cut at the edge without
    a sign. The whole text is in the version's manifest (``mlrelease show``).
    """

    def render_label(self, node: TreeNode[None], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if not self.show_vertical_scrollbar:  # it may appear once the lines are counted: leave it its cells
            room -= self.styles.scrollbar_size_vertical
        if room > 8 and label.cell_len > room:
            label.truncate(room, overflow="ellipsis")
        return label


class LineagePane(Pane):
    TAB = "lineage"
    FOCUS = "#lineage-tree"

    @dataclass
    class Read(Message):
        lineage: Lineage

    def __init__(self) -> None:
        super().__init__()
        self._for: str | None = None  # the version shown (or being read)

    def compose(self) -> ComposeResult:
        yield FitTree(Text("lineage"), id="lineage-tree")

    def model_changed(self, data: ModelData) -> None:
        super().model_changed(data)
        self._for = None
        if self.view.active_tab == self.TAB:
            self.show_version(self.view.selected_version())

    def activate(self) -> None:
        self.show_version(self.view.selected_version())
        super().activate()

    def show_version(self, version: str | None) -> None:
        """Read the lineage of ``version`` unless it is the one shown."""
        if version is None or version == self._for:
            return
        self._for = version
        self._read(version)

    @work(thread=True, exclusive=True, group="lineage", exit_on_error=False, description="reading lineage")
    def _read(self, version: str) -> None:
        self.post_message(self.Read(load_lineage(self.mlr.session, self.view.model_name, version)))

    @on(Read)
    def _show(self, message: Read) -> None:
        lin = message.lineage
        tree = self.query_one("#lineage-tree", Tree)
        tree.clear()
        v = lin.version
        tree.root.set_label(
            join(lit(f"{v.model}@{v.version}", "bold"), Text("by", style="dim"), lit(v.author), Text(when(v.created), style="dim"))
        )
        up = tree.root.add(Text("upstream", style="bold"), expand=True)
        data = up.add(Text("data sets"), expand=True)
        for d in lin.data:
            label = join(lit(d.role, "dim"), lit(f"{d.ref.dataset}@{d.ref.version}"))
            rows = d.ref.rows if d.ref.rows is not None else (d.manifest.rows if d.manifest else None)
            if rows is not None:
                label.append(f"  {rows:,} rows", style="dim")
            if d.manifest is None:
                label.append("  (no manifest in the registry)", style="bold")
            elif d.manifest.uri:
                label.append_text(join(Text(" "), lit(d.manifest.uri, "dim")))
            data.add_leaf(label)
        if not lin.data:
            data.add_leaf(Text("none recorded", style="dim"))
        code = up.add(Text("code"), expand=True)
        if lin.code is not None:
            code.add_leaf(join(Text("repo", style="dim"), lit(lin.code.repo)))
            code.add_leaf(join(Text("commit", style="dim"), lit(lin.code.commit)))
            if lin.code.entrypoint:
                code.add_leaf(join(Text("entrypoint", style="dim"), lit(lin.code.entrypoint)))
        else:
            code.add_leaf(Text("none recorded", style="dim"))
        parents = up.add(Text("parent chain"), expand=True)
        for a in lin.parents.ancestors:
            parents.add_leaf(join(lit(a.version, "bold"), lit(a.author), Text(when(a.created), style="dim")))
        parents.add_leaf(Text(lin.parents.describe_end(), style="dim"))
        down = tree.root.add(Text("downstream", style="bold"), expand=True)
        envs = down.add(Text("environments"), expand=True)
        for p in lin.placements:
            envs.add_leaf(lit(p.describe(), "bold"))
        if not lin.placements:
            envs.add_leaf(Text("not live anywhere", style="dim"))
        running = tuple(p.environment for p in lin.placements)
        consumers = down.add(Text("consuming applications"), expand=True)
        for link in lin.consumers:
            consumers.add_leaf(consumer_label(link, running))
        if not lin.consumers:
            consumers.add_leaf(Text("none recorded in model.yaml", style="dim"))
        children = down.add(Text("child versions"), expand=True)
        for child in lin.children:
            children.add_leaf(lit(child))
        if not lin.children:
            children.add_leaf(Text("none", style="dim"))
        for problem in lin.problems[:5]:
            tree.root.add_leaf(lit(f"problem: {problem}", "bold"))
        tree.root.expand()
