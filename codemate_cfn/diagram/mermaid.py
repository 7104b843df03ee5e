"""The diagram as a Mermaid flowchart, which GitHub draws where Markdown
holds it in a ```mermaid block: a box per layer, the subnets boxed by tier
inside the network's, one line per edge styled by its kind, and the parts
that hang on a template condition dashed."""

from __future__ import annotations

from codemate_cfn.diagram.model import Diagram, Node

# kind -> (arrow, line style)
ARROWS = {
    "traffic": ("==>", "stroke:#1f6feb"),
    "uses": ("-->", "stroke:#6e7781"),
    "allows": ("-.->", "stroke:#cf222e"),
    "egress": ("-->", "stroke:#8c959f"),
    "delivery": ("-->", "stroke:#1a7f37"),
}
STORES = {"AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::S3::Bucket"}
LEGEND = ("thick blue: traffic · grey: uses · dotted red: security-group allowance · light grey: egress route · "
          "green: delivery · dashed: made only under a template condition")


def text(value: str) -> str:
    """Text safe inside a Mermaid quoted label."""
    for char, code in (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        value = value.replace(char, code)
    return value


def _label(node: Node) -> str:
    lines = [f"<b>{text(node.title)}</b>", *(text(d) for d in node.details)]
    if node.condition:
        lines.append(f"<i>if {text(node.condition)}</i>")
    return "<br/>".join(lines)


def _shape(node: Node) -> str:
    if not node.layer:
        return f'(["{_label(node)}"])'
    if node.kind in STORES:
        return f'[("{_label(node)}")]'
    return f'["{_label(node)}"]'


def mermaid(diagram: Diagram, source: str) -> str:
    """The flowchart; `source` says what made it (a comment on top)."""
    out = [f"%% {diagram.title}", f"%% {source}; do not edit", "flowchart LR"]
    for node in diagram.nodes:
        if not node.layer:
            out.append(f"  {node.id}{_shape(node)}")
    for layer in diagram.layers:
        out.append(f'  subgraph layer_{layer}["{text(layer)}"]')
        members = [n for n in diagram.nodes if n.layer == layer]
        for group in dict.fromkeys(n.group for n in members):
            indent = "    "
            if group:
                out.append(f'    subgraph {layer}__{group.replace(" ", "_")}["{text(group)}"]')
                indent = "      "
            out += [f"{indent}{n.id}{_shape(n)}" for n in members if n.group == group]
            if group:
                out.append("    end")
        out.append("  end")
    for edge in diagram.edges:
        arrow = ARROWS[edge.kind][0]
        label = f'|"{text(edge.label)}"|' if edge.label else ""
        out.append(f"  {edge.source} {arrow}{label} {edge.target}")
    for kind, (_, style) in ARROWS.items():
        indexes = [str(i) for i, e in enumerate(diagram.edges) if e.kind == kind]
        dashed = [str(i) for i, e in enumerate(diagram.edges) if e.kind == kind and e.conditional]
        if indexes:
            out.append(f"  linkStyle {','.join(indexes)} {style}")
        if dashed:
            out.append(f"  linkStyle {','.join(dashed)} {style},stroke-dasharray:5 4")
    conditional = [n.id for n in diagram.nodes if n.condition]
    if conditional:
        out.append("  classDef conditional stroke-dasharray:5 4")
        out.append(f"  class {','.join(conditional)} conditional")
    return "\n".join(out) + "\n"
