"""CodeMate's infrastructure: one troposphere builder module per layer, the
catalogue of root parameters, the project's conventions (project.py) and the
blocks layers share (kit/). No AWS calls, no I/O."""
