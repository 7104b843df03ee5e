"""CodeMate's infrastructure: one troposphere builder module per layer, and
the catalogue of root parameters. No AWS calls, no I/O."""
