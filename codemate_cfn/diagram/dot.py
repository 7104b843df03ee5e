"""The diagram in Graphviz's DOT language, for `dot` to draw as SVG and
PNG: a cluster per layer (the subnets in a cluster per tier inside the
network's), edges styled by kind, conditional parts dashed."""

from __future__ import annotations

import html

from codemate_cfn.diagram.mermaid import LEGEND, STORES
from codemate_cfn.diagram.model import Diagram, Node

# kind -> edge attributes
EDGE_STYLES = {
    "traffic": 'color="#1f6feb", penwidth=2.2',
    "uses": 'color="#6e7781"',
    "allows": 'color="#cf222e", style=dotted',
    "egress": 'color="#8c959f"',
    "delivery": 'color="#1a7f37"',
}


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(node: Node) -> str:
    lines = [f"<B>{html.escape(node.title)}</B>", *(html.escape(d) for d in node.details)]
    if node.condition:
        lines.append(f"<I>if {html.escape(node.condition)}</I>")
    return "<" + "<BR/>".join(lines) + ">"


def _node(node: Node) -> str:
    shape = "ellipse" if not node.layer else ("cylinder" if node.kind in STORES else "box")
    style = '"rounded,dashed"' if node.condition else "rounded"
    if shape != "box":
        style = "dashed" if node.condition else "solid"
    return f"{quoted(node.id)} [label={_label(node)}, shape={shape}, style={style}]"


def dot(diagram: Diagram, source: str) -> str:
    out = [f"// {diagram.title}", f"// {source}; do not edit", "digraph architecture {",
           "  rankdir=LR; compound=true; newrank=true; fontname=Helvetica;",
           '  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];',
           f"  label={quoted(diagram.title + chr(10) + LEGEND)}; labelloc=t;"]
    out += [f"  {_node(n)}" for n in diagram.nodes if not n.layer]
    for layer in diagram.layers:
        out.append(f"  subgraph {quoted('cluster_' + layer)} {{")
        out.append(f'    label={quoted(layer)}; style="rounded"; color="#57606a";')
        members = [n for n in diagram.nodes if n.layer == layer]
        for group in dict.fromkeys(n.group for n in members):
            if group:
                out.append(f"    subgraph {quoted('cluster_' + layer + '_' + group)} {{ label={quoted(group)}; "
                           'style="dashed"; color="#8c959f";')
            out += [f"      {_node(n)}" for n in members if n.group == group]
            if group:
                out.append("    }")
        out.append("  }")
    for edge in diagram.edges:
        style = EDGE_STYLES[edge.kind]
        if edge.conditional:
            style = style.replace(", style=dotted", "") + ", style=dashed"
        label = f", label={quoted(edge.label)}" if edge.label else ""
        out.append(f"  {quoted(edge.source)} -> {quoted(edge.target)} [{style}{label}]")
    out.append("}")
    return "\n".join(out) + "\n"
