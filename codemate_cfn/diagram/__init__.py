"""The architecture diagram: the built templates read as a graph of layers,
their main resources and the edges that matter (traffic, security-group
allowances, delivery), written as Mermaid and, where Graphviz is at hand,
as SVG and PNG. `model` makes the graph, `links` follows references across
the nested stacks, `labels` says what each node shows, `mermaid` and `dot`
write it, `render` draws the DOT."""
